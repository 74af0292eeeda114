"""Logging set-up for an entry point: readable lines with their ids.

Libraries only ever call `logging.getLogger(__name__)`; a process's entry point
(the CLI, a Serve replica, a showtime actor's constructor) calls
`configure_logging` once.
"""

from __future__ import annotations

import json
import logging
from typing import Any

# The `extra` keys Marquee attaches to log records, shown when present.
CONTEXT_KEYS = ("request_id", "showtime_id", "hold_id", "booking_id")


class ContextFormatter(logging.Formatter):
    """`time level logger message key=value...` with the ids from `extra`."""

    def __init__(self, *, as_json: bool = False) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        context = {
            key: getattr(record, key) for key in CONTEXT_KEYS if hasattr(record, key)
        }
        if self._as_json:
            document: dict[str, Any] = {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
                **context,
            }
            if record.exc_info:
                document["exception"] = self.formatException(record.exc_info)
            return json.dumps(document)
        line = super().format(record)
        if context:
            line += " " + " ".join(f"{key}={value}" for key, value in context.items())
        return line


def configure_logging(level: str = "INFO", *, as_json: bool = False) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler()
    handler.setFormatter(ContextFormatter(as_json=as_json))
    for existing in list(root.handlers):
        if isinstance(existing.formatter, ContextFormatter):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
