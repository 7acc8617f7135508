"""The processor's exception tree.

Every exception the processor raises on purpose derives from ``LineageError``::

    LineageError
    ├── InvalidMessage          a message that can never be processed: it goes to the
    │                           dead-letter topic with ``reason`` and ``error`` and is
    │                           never retried (bad bytes, bad JSON, bad event, rule)
    ├── DependencyUnavailable   a service we need is down or refusing work: the batch
    │   │                       is retried with backoff, nothing is dead-lettered and
    │   │                       no offset is committed past it
    │   ├── BrokerUnavailable   Kafka-protocol broker unreachable or failing sends
    │   └── RedisUnavailable    Redis unreachable, paused, out of memory, or read-only
    ├── ConfigurationError      settings that cannot work (bad glob, bad URL, a
    │                           certificate that does not load, credentials Redis
    │                           refuses, ...): one line at start-up, exit code 2
    ├── NodeNotFound            a lineage query names a dataset (or job) the graph does
    │                           not hold (``namespace``, ``name``): a 404, not an outage
    ├── RebuildError            a rebuild cannot start or finish (another one holds the
    │                           lock, the pointer moved under it): exit code 1
    └── ServiceStartError       an embedded service (``dev``, tests) failed to start

The split between ``InvalidMessage`` and ``DependencyUnavailable`` is the
operational contract: a bad event must never block a partition, and an outage
must never turn good events into dead letters.
"""

from __future__ import annotations


class LineageError(Exception):
    """Root of every error the processor raises on purpose."""


class InvalidMessage(LineageError):
    """A message that is rejected for good: it goes to the DLQ with ``reason``."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(f"{reason}: {error}")
        self.reason = reason
        self.error = error


class DependencyUnavailable(LineageError):
    """A dependency is down; the work is retried, never dead-lettered."""


class BrokerUnavailable(DependencyUnavailable):
    """The Kafka-protocol broker cannot be reached or refuses a send."""


class RedisUnavailable(DependencyUnavailable):
    """Redis cannot be reached or refuses a command (busy, OOM, read-only)."""


class ConfigurationError(LineageError):
    """Settings that cannot work; reported at start-up in one line."""


class NodeNotFound(LineageError):
    """A lineage query's dataset (or job) is not in the graph."""

    def __init__(self, namespace: str, name: str, kind: str = "dataset") -> None:
        super().__init__(f"{kind} not found: {namespace} {name}")
        self.namespace = namespace
        self.name = name
        self.kind = kind


class RebuildError(LineageError):
    """A rebuild cannot start or finish (another one runs, the pointer moved)."""


class TruncatedLog(RebuildError):
    """The log no longer holds the beginning the graph was built from: a
    rebuild would switch to a smaller graph (``--allow-truncated-log``)."""


class ServiceStartError(LineageError):
    """An embedded service (broker or Redis for ``dev`` and tests) failed to start."""
