"""What the HTTP views need from the worker that serves them.

The views (``http``, ``http_graph``, ``http_ui``) are written against this
protocol, not against ``processor.app.LineageWorker``, so that the adapters
never import the app; the worker satisfies it as it is.
"""

from __future__ import annotations

from typing import Protocol

from processor.adapters.metrics import Metrics
from processor.adapters.redis_store import RedisGraphStore


class HttpBackend(Protocol):
    """The graph store of the current generation, the metrics, the retention
    cutoff and the readiness checks."""

    @property
    def store(self) -> RedisGraphStore: ...

    @property
    def metrics(self) -> Metrics: ...

    def floor(self, as_of: str | None = None) -> str:
        """The retention cutoff for reading the graph as of ``as_of`` (now when None)."""
        ...

    async def readiness(self) -> dict[str, bool]:
        """Each dependency's readiness, by name."""
        ...

    def not_ready_reasons(self) -> dict[str, str]:
        """Why a check of ``readiness`` fails, by name, where there is more to say."""
        ...
