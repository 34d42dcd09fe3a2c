"""The `browserpool` command: run the daemon (all in one, or API and worker apart), manage users, keys, workers."""

import argparse
import asyncio
import sys
from typing import Any

from orchestrator.config import Settings
from orchestrator.errors import BrowserpoolError
from orchestrator.isolation import ISOLATION_LEVELS
from orchestrator.redis_server import RedisUnavailable
from orchestrator.runtime import Role

from . import commands
from .logs import configure_logging
from .settings_doc import help_epilog


def _parser() -> argparse.ArgumentParser:
    # A subcommand that reads the settings lists them, with their environment names and defaults, in its --help
    # (the list is rendered once per parser).
    settings_help: dict[str, Any] = {"epilog": help_epilog(), "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = argparse.ArgumentParser(prog="browserpool", description=__doc__)
    parsers = parser.add_subparsers(dest="command", required=True)
    for name, what in (
        ("serve", "run the API, the reaper and a browser worker in one process"),
        ("api", "run the API and the reaper only; sessions live on workers"),
        ("worker", "run a browser worker only, reached by API nodes through Redis's registry"),
    ):
        parsers.add_parser(name, help=what, description=what, **settings_help)

    users = parsers.add_parser("users", help="manage users", **settings_help).add_subparsers(dest="sub", required=True)
    add = users.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--admin", action="store_true", help="may use /v1/admin (pool state, draining workers)")
    add.set_defaults(handler=commands.users_add)
    passwd = users.add_parser("passwd", help="change a password (revokes the user's bearer tokens)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    passwd.set_defaults(handler=commands.users_passwd)
    limit = users.add_parser("limit", help="set a user's live-session limit (a number, 0 for none, or default)")
    limit.add_argument("name")
    limit.add_argument("limit", help="N, 0 (no limit) or 'default' (BROWSERPOOL_MAX_SESSIONS_PER_USER)")
    limit.set_defaults(handler=commands.users_limit)
    set_ = users.add_parser("set", help="set a user's defaults for the sessions they create")
    set_.add_argument("name")
    set_.add_argument(
        "--isolation",
        choices=[*ISOLATION_LEVELS, "default"],
        help="isolation of sessions whose create body names none: context (a shared Chromium), browser (one of "
        "their own) or default (back to context)",
    )
    set_.set_defaults(handler=commands.users_set)
    show = users.add_parser("show", help="a user's account and what an operator set for them")
    show.add_argument("name")
    show.set_defaults(handler=commands.users_show)

    keys = parsers.add_parser("keys", help="manage API keys", **settings_help).add_subparsers(dest="sub", required=True)
    create = keys.add_parser("create", help="create an API key for a user; prints only the key")
    create.add_argument("name", help="the user the key belongs to")
    create.add_argument("--label", default="cli", help="the key's name, shown in GET /v1/api-keys")
    create.set_defaults(handler=commands.keys_create)

    workers = parsers.add_parser("workers", help="see and drain workers", **settings_help).add_subparsers(
        dest="sub", required=True
    )
    workers.add_parser("ls", help="list live workers").set_defaults(handler=commands.workers_ls)
    drain = workers.add_parser("drain", help="ask a worker to drain (no new sessions; it exits when done)")
    drain.add_argument("worker_id")
    drain.add_argument("--wait", action="store_true", help="return only once the worker has left")
    drain.set_defaults(handler=commands.workers_drain)

    sessions = parsers.add_parser("sessions", help="see and close sessions", **settings_help).add_subparsers(
        dest="sub", required=True
    )
    ls = sessions.add_parser("ls", help="live sessions of every user")
    ls.add_argument("--user", help="only this user's")
    ls.add_argument("--all", action="store_true", help="also those ended within the retention period")
    ls.set_defaults(handler=commands.sessions_ls)
    close = sessions.add_parser("close", help="close a session (its worker closes the context)")
    close.add_argument("session_id")
    close.set_defaults(handler=commands.sessions_close)

    doctor_help = "check Redis, Chromium, flags and /dev/shm; say what to fix"
    parsers.add_parser("doctor", help=doctor_help, description=doctor_help, **settings_help)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging()
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"browserpool: bad settings: {exc}", file=sys.stderr)
        return 2
    if args.command in ("serve", "api", "worker"):
        from .server import run

        return run(settings, Role(args.command))
    if args.command == "doctor":
        from .doctor import report, run_checks

        text, healthy = report(run_checks(settings))
        print(text)
        return 0 if healthy else 1
    try:
        print(asyncio.run(args.handler(settings, args)))
    except (BrowserpoolError, RedisUnavailable) as exc:
        print(f"browserpool: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
