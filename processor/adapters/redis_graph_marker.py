"""The graph's marker, the lost flag and Redis's eviction policy
(``processor.graph_guard``; the decisions are ``core.graph_loss``'s).

``P:graph:origin`` is written when a worker begins a graph
(``lua/graph_begin.lua``) and when a rebuild switches (``lua/switch.lua``);
``P:graph:lost`` is set by the first worker that finds the graph lost and
deleted by the switch. Redis errors become ``RedisUnavailable``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from processor.adapters.redis_errors import unavailable
from processor.adapters.redis_keys import Keyspace
from processor.adapters.redis_scripts import source
from processor.core.graph_loss import GraphState
from processor.errors import ConfigurationError

SAFE_POLICY = "noeviction"


class GraphMarker:
    """The marker keys of ``prefix`` on ``client``."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.keys = Keyspace(prefix)
        self._state = client.register_script(source("graph_state.lua"))
        self._begin = client.register_script(source("graph_begin.lua"))

    async def state(self) -> GraphState:
        """Marker, lost flag and the current generation's folded offsets, atomically."""
        k = self.keys
        try:
            origin, lost, folded = await self._state(
                keys=[k.pointer, k.origin, k.lost], args=[k.prefix]
            )
        except RedisError as exc:
            raise unavailable(exc) from exc
        return GraphState(
            origin=None if origin == 0 else {_text(a): _text(b) for a, b in _pairs(origin)},
            lost=None if lost == 0 else _text(lost),
            folded={_text(a): int(b) for a, b in _pairs(folded)},
        )

    async def begin(self, generation: str, first: Mapping[str, int]) -> bool:
        """Write the marker unless there is one or the lost flag; whether written."""
        k = self.keys
        try:
            done = await self._begin(
                keys=[k.origin, k.lost], args=[generation, orjson.dumps(dict(first))]
            )
        except RedisError as exc:
            raise unavailable(exc) from exc
        return bool(done)

    async def flag_lost(self, reason: str) -> None:
        """Tell the other workers (and new ones) that the graph is lost."""
        try:
            await self.client.set(self.keys.lost, reason, nx=True)
        except RedisError as exc:
            raise unavailable(exc) from exc


async def check_eviction_policy(client: aioredis.Redis, *, allow: bool) -> str | None:
    """Refuse a Redis that may evict keys: ``ConfigurationError`` naming the
    setting, or with ``allow`` a warning text to log. A Redis that does not
    let us read its configuration (``CONFIG`` renamed or denied, as managed
    services do) gets a warning too: it can not be checked."""
    try:
        found: dict[Any, Any] = await client.config_get("maxmemory-policy")
    except ResponseError as exc:
        return (
            f"cannot read Redis's maxmemory-policy ({exc}); make sure it is {SAFE_POLICY}: "
            "an evicting Redis drops parts of the graph silently"
        )
    except RedisError as exc:
        raise unavailable(exc) from exc
    policy = _text(next(iter(found.values()), b"")) if found else ""
    if policy in ("", SAFE_POLICY):
        return None
    text = (
        f"Redis's maxmemory-policy is {policy}: it may evict graph keys under memory "
        f"pressure and lose lineage silently; set maxmemory-policy {SAFE_POLICY}"
    )
    if not allow:
        raise ConfigurationError(f"{text} (or LINEAGE_ALLOW_REDIS_EVICTION=true to run anyway)")
    return f"{text}; running anyway (LINEAGE_ALLOW_REDIS_EVICTION=true)"


def _pairs(flat: list[Any]) -> list[tuple[Any, Any]]:
    return list(zip(flat[::2], flat[1::2], strict=True))


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
