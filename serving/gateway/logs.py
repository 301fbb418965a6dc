"""Structured JSON logs. Records carry routing facts only, never prompt or completion text."""

from __future__ import annotations

import json
import logging
from typing import Any

LOGGER = logging.getLogger("paddock.gateway")
#: The only fields a request log line may carry (a whitelist, so message text cannot slip in).
FIELDS = ("alias", "upstream", "status", "reason", "stream", "duration_ms", "ttft_ms", "error", "request_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"level": record.levelname.lower(), "event": record.getMessage()}
        for key in FIELDS:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        return json.dumps(out, separators=(",", ":"))


def log_request(**fields: Any) -> None:
    """Log one finished request; unknown fields are dropped."""
    if LOGGER.isEnabledFor(logging.INFO):
        LOGGER.info("request", extra={k: v for k, v in fields.items() if k in FIELDS})


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level)
    LOGGER.propagate = False
