"""The last line of defence in logging: secrets and biometric-looking data are masked."""

from __future__ import annotations

import json
import logging

from backend.core.logging import REDACTED, JsonFormatter, RedactingFilter, redact


def test_passwords_tokens_and_urls_with_credentials_are_masked() -> None:
    text = redact(
        'login password=hunter2-long token: "abc123def456" Authorization: Token 0123456789abcdef '
        "db postgres://postgres:s3cret@127.0.0.1:5433/facerec"
    )
    for secret in ("hunter2-long", "abc123def456", "0123456789abcdef", "s3cret"):
        assert secret not in text
    assert text.count(REDACTED) >= 4 and "127.0.0.1:5433/facerec" in text


def test_image_bytes_and_templates_are_masked() -> None:
    blob = "A" * 400
    template = ", ".join(f"{0.0123 * i:.4f}" for i in range(128))
    text = redact(f"bytes {blob} template [{template}]")
    assert blob not in text and "0.1230" not in text


def test_filter_masks_arguments_and_formatter_emits_json_with_request_id() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "user %s password=%s", ("sita", "pa55word-xyz"), None)
    assert RedactingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == f"user sita password={REDACTED}"
    assert line["request_id"] == "-" and line["level"] == "INFO"
