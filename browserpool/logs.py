"""Logging set-up: JSON lines when stderr is not a terminal (for log shippers), plain text on a terminal."""

import json
import logging
import re
import sys
from datetime import UTC, datetime

# Fields that lifecycle log lines carry (see orchestrator/store.py); copied into each JSON line when present.
CONTEXT_FIELDS = ("event", "session_id", "user_id", "worker_id", "status", "reason")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({f: getattr(record, f) for f in CONTEXT_FIELDS if getattr(record, f, None) is not None})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure_logging(json_lines: bool | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_lines if json_lines is not None else not sys.stderr.isatty():
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


# Query parameters that carry a credential: a CDP `?token=` is as good as the session itself, a live link's
# `?link=` as good as its view of the session.
_SECRET_QUERY = re.compile(r"([?&](?:token|link|api_key|access_token|key)=)[^&\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    """The text with every credential-bearing query value replaced."""
    return _SECRET_QUERY.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Rewrites log records (uvicorn's access lines, websocket lines) so no query-string credential is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_server_logs() -> None:
    """Install the redaction on the loggers uvicorn writes request lines to."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactSecrets())
