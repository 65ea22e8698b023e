"""Log lines an operator's tooling can read: ``--log-format text|json`` and ``--log-level``.

One place configures logging for every command (``familycard.cli``): the flows' own lines
(``familycard``, ``flows.*``) and librdkafka's (routed to Python logging by ``flows.kafka.clients``).
JSON lines carry ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg`` and any structured
fields passed as ``extra={"fields": {...}}``; secrets never reach them (``KafkaConfig.redacted``).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

import orjson

__all__ = ["setup", "FORMATS", "LEVELS"]

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def setup(level: str = "info", fmt: str = "text") -> None:
    """Configure the root logger once, on stderr (stdout carries command output: summaries, CSV)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Json() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))
