"""Dead-letter record headers (docs/design.md section 7)."""

from __future__ import annotations

from typing import Any

from processor.core.dlq_headers import MAX_ERROR_CHARS, DlqHeaders, dlq_headers
from processor.core.reasons import Reason
from processor.core.rules import MixRule

ARGS: dict[str, Any] = {
    "reason": Reason.INVALID_EVENT,
    "error": "outputs[0].name: String should have at least 1 character",
    "topic": "openlineage.events",
    "partition": 3,
    "offset": 12345,
    "timestamp_ms": 1772359200000,
    "version": "0.1.0",
    "rule": MixRule("mixed", ["snowflake://*"]).describe(),
}


def test_names_values_and_order() -> None:
    assert dlq_headers(**ARGS) == [
        ("lineage.reason", b"invalid_event"),
        ("lineage.error", b"outputs[0].name: String should have at least 1 character"),
        ("lineage.source.topic", b"openlineage.events"),
        ("lineage.source.partition", b"3"),
        ("lineage.source.offset", b"12345"),
        ("lineage.source.timestamp", b"1772359200000"),
        ("lineage.processor.version", b"0.1.0"),
        ("lineage.rule", b"mixed;internal=snowflake://*"),
    ]


def test_every_reason_code_is_written_as_is() -> None:
    for reason in Reason:
        headers = dict(dlq_headers(**{**ARGS, "reason": reason}))
        assert headers["lineage.reason"] == reason.value.encode()


def test_values_are_utf8() -> None:
    error = "inputs[0].name: café \U0001f600"
    headers = dict(dlq_headers(**{**ARGS, "error": error, "topic": "tö"}))
    assert headers["lineage.error"] == "inputs[0].name: café \U0001f600".encode()
    assert headers["lineage.source.topic"] == "tö".encode()


def test_lone_surrogate_in_error_does_not_break_encoding() -> None:
    headers = dict(dlq_headers(**{**ARGS, "error": "bad \ud800 text"}))
    assert headers["lineage.error"] == b"bad \\ud800 text"


def test_missing_timestamp_is_empty() -> None:
    assert dict(dlq_headers(**{**ARGS, "timestamp_ms": None}))["lineage.source.timestamp"] == b""


def test_long_error_is_bounded() -> None:
    error = "x" * (MAX_ERROR_CHARS + 500)
    value = dict(dlq_headers(**{**ARGS, "error": error}))["lineage.error"].decode()
    assert len(value) == MAX_ERROR_CHARS
    assert value == "x" * (MAX_ERROR_CHARS - 1) + "…"
    exact = "y" * MAX_ERROR_CHARS  # at the bound: unchanged
    assert dict(dlq_headers(**{**ARGS, "error": exact}))["lineage.error"] == exact.encode()


def test_headers_validate_against_the_published_model() -> None:
    decoded = {k: v.decode() for k, v in dlq_headers(**ARGS)}
    model = DlqHeaders.model_validate(decoded)
    assert model.reason == Reason.INVALID_EVENT
    assert model.source_partition == "3"
    assert model.rule == "mixed;internal=snowflake://*"
