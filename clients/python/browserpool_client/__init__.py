"""A small client for browserpool's API, sync (`Client`) and async (`AsyncClient`).

from browserpool_client import Client
with Client("http://127.0.0.1:8000", api_key="bp_...") as pool:
    session = pool.create(viewport_width=1024, viewport_height=768)
    print(pool.evaluate(session.session_id, "navigator.userAgent"))
    pool.delete_session(session.session_id)
"""

from .async_client import AsyncClient
from .client import Client
from .files import Download, UploadedFile
from .models import BrowserpoolAPIError, LiveLink, Profile, Session

__all__ = [
    "AsyncClient",
    "BrowserpoolAPIError",
    "Client",
    "Download",
    "LiveLink",
    "Profile",
    "Session",
    "UploadedFile",
]
