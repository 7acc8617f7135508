"""The worker's guard over the graph (``processor.graph_guard``) as a state
machine, on an in-memory marker: when folds wait, what ``/readyz`` and the
metrics say, who heals. The same paths on real Redis and Kafka are in
``tests/integration/test_graph_loss.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from redis.exceptions import ResponseError

from processor import graph_guard
from processor.adapters.metrics import Metrics
from processor.adapters.redis_graph_marker import check_eviction_policy
from processor.core.graph_loss import GraphState
from processor.errors import ConfigurationError, RebuildError, TruncatedLog
from processor.graph_guard import GraphGuard
from processor.settings import Settings


class FakeMarker:
    """The three Redis keys the guard reads, in memory."""

    def __init__(self) -> None:
        self.origin: dict[str, str] | None = None
        self.lost: str | None = None
        self.folded: dict[str, int] = {}

    async def state(self) -> GraphState:
        return GraphState(
            None if self.origin is None else dict(self.origin), self.lost, dict(self.folded)
        )

    async def begin(self, generation: str, first: Mapping[str, int]) -> bool:
        if self.origin is not None or self.lost is not None:
            return False
        self.origin = {"generation": generation, **{k: str(v) for k, v in first.items()}}
        return True

    async def flag_lost(self, reason: str) -> None:
        self.lost = self.lost or reason

    def flush(self) -> None:
        self.origin, self.lost, self.folded = None, None, {}

    def switch(self) -> None:
        self.origin, self.lost = {"generation": "2", "t/0": "0"}, None


class FakeStore:
    client: Any = None

    async def load_generation(self) -> str:
        return "1"


def _guard(
    monkeypatch: pytest.MonkeyPatch, committed: dict[str, int], **settings: Any
) -> tuple[GraphGuard, FakeMarker, Metrics]:
    async def extent(*args: Any, **kwargs: Any) -> tuple[dict[str, int], dict[str, int]]:
        return {"t/0": 0, "c/0": 0}, committed

    monkeypatch.setattr(graph_guard, "group_extent", extent)
    monkeypatch.setattr(graph_guard, "GraphMarker", lambda client, prefix: FakeMarker())
    metrics = Metrics(CollectorRegistry())
    guard = GraphGuard(Settings(**settings), FakeStore(), metrics)  # type: ignore[arg-type]
    assert isinstance(guard.marker, FakeMarker)
    return guard, guard.marker, metrics


def _value(metrics: Metrics, name: str) -> float:
    found = metrics.registry.get_sample_value(name)
    assert found is not None
    return found


async def _folds_wait(guard: GraphGuard) -> bool:
    try:
        await asyncio.wait_for(guard.wait_foldable(), 0.05)
    except TimeoutError:
        return True
    return False


def test_a_fresh_graph_gets_its_marker_and_folds_wait_only_for_the_start_up_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def run() -> None:
        guard, marker, metrics = _guard(monkeypatch, committed={})
        assert await _folds_wait(guard)
        assert guard.not_ready_reason() == "checking that Redis holds the graph"
        await guard.start()
        assert marker.origin == {"generation": "1", "t/0": "0", "c/0": "0"}
        assert not await _folds_wait(guard)
        assert guard.not_ready_reason() is None
        assert _value(metrics, "lineage_graph_lost") == 0

    asyncio.run(run())


def test_halt_a_flushall_stops_folds_until_a_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    async def run() -> None:
        guard, marker, metrics = _guard(monkeypatch, committed={}, on_graph_loss="halt")
        await guard.start()
        marker.folded = {"t/0": 99}
        await guard.check({("t", 0): 100})
        assert guard.lost is None

        marker.flush()
        marker.folded = {"t/0": 130}  # a fold that landed in the empty Redis
        await guard.check({("t", 0): 131})
        assert guard.lost is not None
        assert "marker is gone" in guard.lost
        assert await _folds_wait(guard)
        assert marker.lost == guard.lost  # the other workers are told
        reason = guard.not_ready_reason()
        assert reason is not None
        assert reason.endswith("halted until an operator rebuilds it")
        assert _value(metrics, "lineage_graph_lost") == 1
        assert _value(metrics, "lineage_graph_losses_total") == 1

        await guard.check({("t", 0): 131})  # still lost: counted once
        assert _value(metrics, "lineage_graph_losses_total") == 1
        marker.switch()  # an operator's rebuild
        await guard.check({("t", 0): 131})
        assert guard.lost is None
        assert not await _folds_wait(guard)
        assert _value(metrics, "lineage_graph_lost") == 0

    asyncio.run(run())


def test_start_up_against_an_emptied_redis_with_committed_offsets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def run() -> None:
        guard, marker, _metrics = _guard(monkeypatch, committed={"t/0": 46}, on_graph_loss="halt")
        await guard.start()
        assert guard.lost is not None
        assert "t/0 folded up to -1 but durable up to 45" in guard.lost
        assert marker.origin is None  # not blessed with a marker
        assert marker.lost is not None
        assert await _folds_wait(guard)

    asyncio.run(run())


def test_a_late_worker_does_not_bless_a_graph_another_worker_found_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def run() -> None:
        guard, marker, _ = _guard(monkeypatch, committed={"t/0": 46}, on_graph_loss="halt")
        marker.lost = "the graph's marker is gone"
        marker.folded = {"t/0": 60}  # covers what is committed: only the flag tells
        await guard.start()
        assert guard.lost == "another worker found the graph lost: the graph's marker is gone"
        assert marker.origin is None

    asyncio.run(run())


def test_rebuild_mode_keeps_folding_and_heals_by_a_rebuild(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[dict[str, Any]] = []

    class FakeRebuild:
        def __init__(self, settings: Settings, **options: Any) -> None:
            runs.append(options)

        async def run(self) -> Any:
            if len(runs) == 1:
                raise RebuildError("another rebuild is running")
            marker.switch()
            return type("R", (), {"switched": True, "generation": "2"})()

    monkeypatch.setattr(graph_guard, "Rebuild", FakeRebuild)
    monkeypatch.setattr(graph_guard, "HEAL_LOCK_POLL_S", 0.01)

    async def run() -> None:
        guard, m, metrics = _guard(monkeypatch, committed={})
        nonlocal marker
        marker = m
        await guard.start()
        marker.flush()
        await guard.check({})
        assert guard.lost is not None
        assert not await _folds_wait(guard)  # rebuild mode: the worker keeps folding
        assert guard.not_ready_reason() is not None
        assert guard._healer is not None
        await asyncio.wait_for(guard._healer, 5)
        assert len(runs) == 2  # the lock was taken once, then it rebuilt
        assert runs[0]["origin"] == {"t/0": 0, "c/0": 0}  # the origin seen before the loss
        await guard.check({})
        assert guard.lost is None
        assert _value(metrics, "lineage_graph_lost") == 0

    marker = FakeMarker()
    asyncio.run(run())


def test_a_truncated_log_stops_the_healing_and_stays_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    class Refused:
        def __init__(self, settings: Settings, **options: Any) -> None:
            pass

        async def run(self) -> Any:
            raise TruncatedLog("120 messages are gone")

    monkeypatch.setattr(graph_guard, "Rebuild", Refused)

    async def run() -> None:
        guard, marker, _ = _guard(monkeypatch, committed={})
        await guard.start()
        marker.flush()
        await guard.check({})
        assert guard._healer is not None
        await asyncio.wait_for(guard._healer, 5)
        assert guard.lost is not None
        assert "not rebuilt: 120 messages are gone" in guard.lost
        await guard.check({})
        assert guard.lost is not None

    asyncio.run(run())


class PolicyClient:
    """Answers CONFIG GET maxmemory-policy as Redis does, or refuses CONFIG."""

    def __init__(self, policy: bytes | None) -> None:
        self.policy = policy

    async def config_get(self, name: str) -> dict[bytes, bytes]:
        if self.policy is None:
            raise ResponseError("ERR unknown command 'CONFIG'")
        return {name.encode(): self.policy}


def test_the_eviction_policy_check() -> None:
    async def check(policy: bytes | None, allow: bool) -> str | None:
        return await check_eviction_policy(PolicyClient(policy), allow=allow)  # type: ignore[arg-type]

    assert asyncio.run(check(b"noeviction", False)) is None
    with pytest.raises(ConfigurationError) as refused:
        asyncio.run(check(b"allkeys-lru", False))
    text = str(refused.value)
    assert "maxmemory-policy is allkeys-lru" in text
    assert "LINEAGE_ALLOW_REDIS_EVICTION=true" in text
    assert "\n" not in text
    warning = asyncio.run(check(b"volatile-lru", True))
    assert warning is not None
    assert "running anyway" in warning
    unknown = asyncio.run(check(None, False))
    assert unknown is not None
    assert "cannot read Redis's maxmemory-policy" in unknown


def test_a_batch_made_durable_while_the_check_reads_redis_is_no_loss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's positions move on while the check awaits Redis: the state it
    read predates the batch, so only the positions from before the read count."""

    async def run() -> None:
        guard, marker, metrics = _guard(monkeypatch, committed={})
        await guard.start()
        marker.folded = {"t/0": 99}  # offsets 0..99 folded
        positions = {("t", 0): 100}  # next offset: 100
        read = marker.state

        async def state_then_a_fold_lands() -> GraphState:
            seen = await read()
            # the next batch, offsets 100..130, is folded and recorded meanwhile
            marker.folded = {"t/0": 130}
            positions[("t", 0)] = 131
            return seen

        marker.state = state_then_a_fold_lands  # type: ignore[method-assign]
        await guard.check(positions)
        assert guard.not_ready_reason() is None
        assert _value(metrics, "lineage_graph_lost") == 0

    asyncio.run(run())
