"""Per-session CDP credentials: an HMAC of the session id under a secret that lives in Redis.

Nothing per session is stored, so any API node can mint and check a session's token, and a token
opens nothing once its session has ended (the relay only serves active sessions).
"""

import base64
import hashlib
import hmac
import secrets

from redis.asyncio import Redis

from .keys import Keys


async def load_secret(redis: Redis, keys: Keys) -> bytes:
    """The deployment's token secret, created by whichever node asks first."""
    await redis.set(keys.cdp_secret, secrets.token_hex(32), nx=True)
    value = await redis.get(keys.cdp_secret)
    return bytes.fromhex(value)


class CdpTokens:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def token_for(self, session_id: str) -> str:
        digest = hmac.new(self._secret, f"cdp:{session_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def verify(self, session_id: str, token: str) -> bool:
        """Whether `token` opens the session. Anything not ASCII is simply wrong (compare_digest on str
        would raise on it, and a query string can carry any character)."""
        return token.isascii() and hmac.compare_digest(self.token_for(session_id), token)
