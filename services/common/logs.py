"""Structured logging: JSON lines when stderr is not a terminal, readable text when it is.

Kafka handlers pass `topic`, `partition`, `offset` and `key` as `extra`, so every
line about a message says which message it was.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from datetime import datetime, timezone

from .redact import redact_text

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": redact_text(record.getMessage()),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD)
        record.msg = redact_text(record.getMessage())
        record.args = None
        line = super().format(record)
        return f"{line} {extras}" if extras else line


def logging_config(service: str, level: str = "INFO", json_lines: bool | None = None) -> dict:
    """A `logging.config.dictConfig` for one service; Faust workers take it too,
    so their lines come out in the same shape as everyone else's."""
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    formatter = (
        {"()": JsonFormatter, "service": service}
        if json_lines
        else {"()": TextFormatter, "fmt": f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"}
    )
    quiet = max(logging.WARNING, logging.getLevelName(level))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"cz": formatter},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "cz", "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["default"]},
        "loggers": {
            name: {"level": quiet} for name in ("httpx", "httpcore", "aiokafka", "faust", "mode", "uvicorn.access")
        },
    }


def configure_logging(service: str, level: str = "INFO", json_lines: bool | None = None) -> None:
    logging.config.dictConfig(logging_config(service, level, json_lines))
