"""Log formats: readable text, or one JSON object per line (``LINEAGE_LOG_FORMAT``).

JSON lines carry ``time``, ``level``, ``logger`` and ``message``, plus the
structured fields a record was given (``extra=``): a dead letter's ``topic``,
``partition``, ``offset`` and ``reason``, for instance. Event payloads are
never logged at info or above.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def dict_config(level: str, fmt: str = "text") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for stderr in ``fmt`` (text or json).

    The worker hands the same one to faust, which otherwise replaces the root
    handlers with its own coloured output on stdout when it starts.
    """
    formatter: dict[str, Any] = (
        {"()": "processor.logs.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"lineage": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "lineage",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        # The processor's own level, so that a message below it is dropped
        # before a record is made (one per dead letter at info).
        "loggers": {"processor": {"level": level.upper()}},
    }


def configure(level: str, fmt: str = "text") -> None:
    """Set up logging on stderr in ``fmt`` (text or json)."""
    logging.config.dictConfig(dict_config(level, fmt))
