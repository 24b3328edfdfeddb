"""Structured logs carry no credentials."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from agentplane.telemetry import configure_logging, redact

KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
BEARER = "Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0cGF5bG9hZA.c2lnbmF0dXJlMTIzNDU2"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_with_secrets_redacted(captured: io.StringIO) -> None:
    configure_logging(json=True, level="DEBUG", stream=captured)
    log = logging.getLogger("agentplane.models.openai")
    log.info("calling %s with key %s", "https://api.openai.com", KEY,
             extra={"run_id": "run-1", "input_tokens": 12, "api_key": "plain-but-named-so",
                    "headers": {"Authorization": BEARER, "Accept": "application/json"},
                    "step_key": "s0/a/m1"})
    try:
        raise RuntimeError(f"upstream refused Authorization: {BEARER}")
    except RuntimeError:
        log.exception("model call failed; password=hunter2hunter2")
    lines = captured.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "info" and first["logger"] == "agentplane.models.openai"
    assert first["message"] == "calling https://api.openai.com with key [REDACTED]"
    assert first["run_id"] == "run-1" and first["step_key"] == "s0/a/m1"
    assert first["input_tokens"] == 12  # a count, not a credential
    assert first["api_key"] == "[REDACTED]"
    assert first["headers"] == {"Authorization": "[REDACTED]", "Accept": "application/json"}
    assert "hunter2" not in second["message"]
    assert "RuntimeError" in second["exception"]
    text = captured.getvalue()
    for secret in (KEY, "eyJhbGciOiJIUzI1NiJ9", "plain-but-named-so", "hunter2"):
        assert secret not in text


def test_text_logs_are_redacted_too(captured: io.StringIO) -> None:
    configure_logging(json=False, stream=captured)
    configure_logging(json=False, stream=captured)  # again: still one handler
    logging.getLogger("agentplane").warning("retrying with %s", BEARER)
    assert captured.getvalue().count("retrying") == 1
    assert "eyJ" not in captured.getvalue() and "[REDACTED]" in captured.getvalue()
    logging.getLogger("agentplane").debug("not shown at INFO")
    assert "not shown" not in captured.getvalue()


def test_redact_walks_values() -> None:
    value = {"OPENAI_API_KEY": "x" * 8, "env": [f"token {KEY}"], "max_tokens": 100,
             "nested": {"client_secret": "abc", "note": "fine"}}
    assert redact(value) == {"OPENAI_API_KEY": "[REDACTED]", "env": ["token [REDACTED]"],
                             "max_tokens": 100,
                             "nested": {"client_secret": "[REDACTED]", "note": "fine"}}
