"""The `browserpool` command: run the daemon, manage users and API keys."""

import argparse
import asyncio
import logging
import sys

from orchestrator.accounts import AccountStore
from orchestrator.config import Settings
from orchestrator.errors import BrowserpoolError
from orchestrator.keys import Keys
from orchestrator.redis_server import (
    DEFAULT_LOCAL_URL,
    INSTALL_HINT,
    EmbeddedRedis,
    RedisUnavailable,
    answers,
    find_redis_server,
    resolve_redis_url,
)
from orchestrator.runtime import connect_redis


def _preflight(settings: Settings) -> str | None:
    """What would stop the daemon from starting, said in one line (None when nothing would)."""
    from workers.chromium import ChromiumNotFound, find_chromium

    try:
        if find_chromium(settings.chromium_path) is None:
            return "no Chromium found: run `make setup`, or apt-get install -y chromium-headless-shell"
    except ChromiumNotFound as exc:
        return str(exc)
    embedded = EmbeddedRedis(settings.state_dir)
    if not settings.redis_url and not answers(DEFAULT_LOCAL_URL) and find_redis_server() is None:
        if not (embedded.socket.exists() and answers(embedded.url)):
            return INSTALL_HINT
    return None


class _DenialIsNotAnError(logging.Filter):
    """uvicorn's websockets-sansio protocol logs a refused CDP websocket (a 401/404/410 denial response,
    which the client does receive) as "returned without completing handshake"; drop that false alarm."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing handshake" not in record.getMessage()


def _serve(settings: Settings) -> int:
    import uvicorn

    from workers.local import LocalWorker

    from .app import create_app

    problem = _preflight(settings)
    if problem:
        print(f"browserpool: {problem}", file=sys.stderr)
        return 1

    def local_worker(s: Settings) -> LocalWorker:
        return LocalWorker(s.effective_worker_id, s.browsers, s.contexts_per_browser, s.chromium_path, s.action_timeout)

    app = create_app(local_worker, settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=int(settings.shutdown_grace),
        lifespan="on",
    )
    server = uvicorn.Server(config)
    logging.getLogger("uvicorn.error").addFilter(_DenialIsNotAnError())
    server.run()
    return 0 if server.started else 1


async def _with_accounts(settings: Settings, action: str, name: str, label: str, password: str | None) -> str:
    url = await asyncio.to_thread(resolve_redis_url, settings.redis_url, EmbeddedRedis(settings.state_dir), False)
    redis = connect_redis(url)
    try:
        accounts = AccountStore(redis, Keys(settings.redis_prefix), settings.token_ttl)
        if action == "users-add":
            user = await accounts.add_user(name, password)
            return f"created user {user.name!r}"
        user = await accounts.user_by_name(name)
        issued = await accounts.create_api_key(user, label)
        return issued.secret
    finally:
        await redis.aclose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="browserpool", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the API, the reaper and a browser worker in one process")

    users = commands.add_parser("users", help="manage users").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create an API key for a user; prints only the key")
    create.add_argument("name", help="the user the key belongs to")
    create.add_argument("--label", default="cli", help="the key's name, shown in GET /v1/api-keys")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"browserpool: bad settings: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings)
    password: str | None = None
    if args.command == "users":
        if not args.password_stdin:
            print("browserpool: pass --password-stdin and the password on standard input", file=sys.stderr)
            return 2
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            print("browserpool: empty password", file=sys.stderr)
            return 2
    action = "users-add" if args.command == "users" else "keys-create"
    label = getattr(args, "label", "cli")
    try:
        print(asyncio.run(_with_accounts(settings, action, args.name, label, password)))
    except (BrowserpoolError, RedisUnavailable) as exc:
        print(f"browserpool: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
