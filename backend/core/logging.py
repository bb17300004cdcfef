"""Structured (JSON) logging with ids only. A redaction filter is the last line of defence: code
must not log biometric data or secrets in the first place, but if a message or argument looks
like a password, token, key, image bytes or a template, it is masked before any handler sees it."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

REDACTED = "[redacted]"
_PATTERNS = [
    # "Token <key>" first: the key=value rule below would otherwise mask only the word "Token"
    re.compile(r"(?i)(\b(?:Token|Bearer)\s+)([A-Za-z0-9._~+/=-]{8,})"),
    # key=value or "key": "value" pairs whose key names a secret
    re.compile(
        r"(?i)((?:password|passwd|secret|token|api[_-]?key|authorization|sessionid|csrftoken|otp)[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&]+)"
    ),
    # URLs with credentials: scheme://user:password@host
    re.compile(r"(://[^:/\s]+:)([^@\s]+)(@)"),
    # long base64 / hex blobs (image bytes, keys) and long runs of numbers (templates)
    re.compile(r"()([A-Za-z0-9+/]{120,}={0,2})"),
    re.compile(r"()((?:-?\d+\.\d+[,\s]+){16,}-?\d+\.\d+)"),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(
            lambda m: m.group(1) + REDACTED + (m.group(3) if m.lastindex and m.lastindex >= 3 else ""), text
        )
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)
