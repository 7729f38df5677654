"""Logs: one JSON object per line (``REFERRALS_LOG_FORMAT=json``, production's default) or
plain text, each with the request id that the response's ``X-Request-ID`` header and the
request's audit events carry, and one access line per request.

The access line names the method, the route's endpoint and path, the status and the time
taken, and the signed-in account's id; never a query string, a form field or a body, which
may name the people a case is about.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from sqlalchemy import inspect

access = logging.getLogger("referrals.access")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (or "-") to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = (g.get("request_id", "-") if has_request_context() else "-")
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, request id,
    the extra fields an access line carries, and the exception's traceback if any."""

    EXTRA = ("method", "endpoint", "path", "status", "duration_ms", "user_id")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for name in self.EXTRA:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(log_format: str) -> None:
    """The root logger's one handler, in ``log_format`` ("json" or "text")."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "referrals", False)]:
        root.removeHandler(old)
    handler.referrals = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    logging.getLogger("referrals").setLevel(logging.INFO)


def _started() -> None:
    g.referrals_log_started = time.perf_counter()


def _access_line(response):
    started = g.pop("referrals_log_started", None)
    if started is None or request.endpoint == "static":
        return response
    access.info("%s %s %s", request.method, request.path, response.status_code, extra={
        "method": request.method, "endpoint": request.endpoint, "path": request.path,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "user_id": _loaded_user_id()})
    return response


def _loaded_user_id() -> int | None:
    """The id of the account the request signed in, if it loaded one; logging never loads
    one. The line is written after the request's commit, which expires the user: its
    ``id`` or ``is_authenticated`` would load the row again (a transaction and a query per
    request), so the id is read from the identity the session keeps for it."""
    state = inspect(g.get("_login_user"), raiseerr=False)
    return state.identity[0] if state is not None and state.identity else None


def init_logs(app: Flask) -> None:
    configure_logging(app.config["REFERRALS_SETTINGS"].log_format)
    app.before_request(_started)
    app.after_request(_access_line)
