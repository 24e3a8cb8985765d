"""Log lines as text or JSON, each carrying the ids of the item and delivery it is about.

The dispatcher binds ``delivery`` and ``item`` for the task that runs a delivery, a request
binds the ids in its path; every line logged meanwhile (channels and libraries included)
carries them: as ``key=value`` at the end of a text line, as fields of a JSON line.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
from collections.abc import Iterator
from typing import Any, Literal

__all__ = [
    "IdsFilter",
    "JsonFormatter",
    "LogFormat",
    "TextFormatter",
    "bind_ids",
    "bound_ids",
    "configure",
    "log_ids",
]

LogFormat = Literal["text", "json"]
_IDS: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("gongkai_log_ids")
_QUIET = ("tortoise", "httpx", "httpcore", "apscheduler")
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


def bound_ids() -> dict[str, Any]:
    """The ids bound in the current task (empty outside any delivery or request)."""
    return dict(_IDS.get({}))


@contextlib.contextmanager
def log_ids(**ids: Any) -> Iterator[None]:
    """Add ``ids`` (``item=3, delivery=7``) to every line logged inside the block."""
    token = _IDS.set({**_IDS.get({}), **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _IDS.reset(token)


def bind_ids(**ids: Any) -> None:
    """Add ``ids`` for the rest of the current task (a request's path ids)."""
    _IDS.set({**_IDS.get({}), **{k: v for k, v in ids.items() if v is not None}})


class IdsFilter(logging.Filter):
    """Puts the bound ids on each record (``record.ids``) for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.ids = bound_ids()
        return True


class TextFormatter(logging.Formatter):
    """``time level logger message key=value...``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = getattr(record, "ids", {})
        return text + "".join(f" {k}={v}" for k, v in ids.items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "ids", {}),
        }
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD and k != "ids"}
        line.update({k: v for k, v in extra.items() if k not in line})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(log_format: LogFormat = "text", *, level: int = logging.INFO) -> None:
    """Send every logger's lines to stderr in ``log_format``, with the bound ids."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(IdsFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs whole URLs at INFO, and WeChat puts the access_token in the query string.
    for noisy in _QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
