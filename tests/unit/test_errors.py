"""The exception tree (processor/errors.py, docs/design.md section 11)."""

from __future__ import annotations

from processor.errors import (
    BrokerUnavailable,
    ConfigurationError,
    DependencyUnavailable,
    InvalidMessage,
    LineageError,
    RedisUnavailable,
    ServiceStartError,
)


def test_one_root() -> None:
    for exc in (InvalidMessage, DependencyUnavailable, BrokerUnavailable, RedisUnavailable,
                ConfigurationError, ServiceStartError):  # fmt: skip
        assert issubclass(exc, LineageError)


def test_bad_event_and_dependency_down_are_distinct() -> None:
    assert not issubclass(InvalidMessage, DependencyUnavailable)
    assert not issubclass(DependencyUnavailable, InvalidMessage)
    assert issubclass(BrokerUnavailable, DependencyUnavailable)
    assert issubclass(RedisUnavailable, DependencyUnavailable)


def test_invalid_message_carries_reason_and_error() -> None:
    exc = InvalidMessage("invalid_event", "outputs[0].name: empty")
    assert exc.reason == "invalid_event"
    assert exc.error == "outputs[0].name: empty"
    assert str(exc) == "invalid_event: outputs[0].name: empty"
