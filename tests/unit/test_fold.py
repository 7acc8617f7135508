"""The in-memory reference fold (docs/design.md section 5) on hand-computed examples."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from processor.core.fold import Graph
from processor.core.identity import node_id
from processor.core.pipeline import Accepted, Classified, FoldEvent, Limits, NodeUpdate, classify
from processor.core.rules import MixRule
from tests.events import ol_event

Key = tuple[str, str]

EXT = ("postgres://db", "public.orders")
EXT2 = ("s3://bucket", "orders.csv")
INT = ("snowflake://acme", "RAW.ORDERS")
INT2 = ("snowflake://acme", "MART.ORDERS")

T1 = "2026-03-01T10:00:00.000000Z"
T2 = "2026-03-01T11:00:00.000000Z"
T3 = "2026-03-02T09:30:00.500000Z"

RUN_A = "aaaaaaaa-0000-4000-8000-000000000001"
RUN_B = "bbbbbbbb-0000-4000-8000-000000000002"
RUN_C = "cccccccc-0000-4000-8000-000000000003"


def fe(
    hash_char: str,
    time: str,
    run_id: str | None = RUN_A,
    job: Key = ("dbt", "orders"),
    edges: Sequence[tuple[Key, Key]] = ((EXT, INT),),
    types: Mapping[Key, str] | None = None,
) -> FoldEvent:
    """A FoldEvent whose content hash is ``hash_char`` * 64 (so hashes order by hand)."""
    types = dict(types or {})
    keys = list(dict.fromkeys([k for e in edges for k in e] + list(types)))
    return FoldEvent(
        content_hash=hash_char * 64,
        event_time=time,
        run_id=run_id,
        job=job,
        nodes=tuple(
            NodeUpdate(node_id(*k), k[0], k[1], k[0].startswith("snowflake://"), types.get(k))
            for k in keys
        ),
        edges=tuple((node_id(*s), node_id(*t)) for s, t in edges),
    )


def fold(events: Iterable[FoldEvent]) -> dict[str, Any]:
    graph = Graph()
    for event in events:
        graph.apply(event)
    return graph.snapshot()


def ref(key: Key) -> dict[str, str]:
    return {"namespace": key[0], "name": key[1]}


def edge_of(snapshot: dict[str, Any], source: Key, target: Key) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        e for e in snapshot["edges"] if e["source"] == ref(source) and e["target"] == ref(target)
    ]
    assert len(found) == 1, snapshot
    return found[0]


def types_of(snapshot: dict[str, Any]) -> dict[Key, str]:
    return {(n["namespace"], n["name"]): n["type"] for n in snapshot["nodes"]}


# ------------------------------------------------------------------ one event


def test_one_event_whole_snapshot() -> None:
    assert fold([fe("1", T1)]) == {
        "nodes": [
            {"namespace": "postgres://db", "name": "public.orders",
             "type": "External Node", "internal": False},
            {"namespace": "snowflake://acme", "name": "RAW.ORDERS",
             "type": "TABLE", "internal": True},
        ],
        "edges": [
            {"source": ref(EXT), "target": ref(INT),
             "jobs": [{"namespace": "dbt", "name": "orders"}],
             "firstSeen": T1, "lastSeen": T1, "lastRunId": RUN_A, "events": 1},
        ],
    }  # fmt: skip


def test_empty_graph() -> None:
    assert fold([]) == {"nodes": [], "edges": []}


# ------------------------------------------------------------------ edge attributes


def test_jobs_are_a_set_sorted_by_namespace_then_name() -> None:
    events = [
        fe("1", T1, job=("dbt", "orders")),
        fe("2", T2, job=("airflow", "z_dag.task")),
        fe("3", T3, job=("dbt", "orders")),  # again: one job
        fe("4", T1, job=("dbt", "customers")),
        fe("5", T1, job=("airflow2", "a")),
    ]
    # tuple order: "airflow" < "airflow2" < "dbt"; then "customers" < "orders"
    assert edge_of(fold(events), EXT, INT)["jobs"] == [
        {"namespace": "airflow", "name": "z_dag.task"},
        {"namespace": "airflow2", "name": "a"},
        {"namespace": "dbt", "name": "customers"},
        {"namespace": "dbt", "name": "orders"},
    ]


def test_first_and_last_seen_are_min_and_max() -> None:
    edge = edge_of(fold([fe("1", T2), fe("2", T3), fe("3", T1)]), EXT, INT)
    assert (edge["firstSeen"], edge["lastSeen"]) == (T1, T3)


def test_last_run_id_of_the_newest_event_by_time() -> None:
    # T3 > T2 > T1; the hash only breaks ties
    events = [fe("f", T1, RUN_A), fe("0", T3, RUN_B), fe("9", T2, RUN_C)]
    assert edge_of(fold(events), EXT, INT)["lastRunId"] == RUN_B


def test_last_run_id_tie_on_event_time_broken_by_content_hash() -> None:
    # same eventTime: "2222..." > "1111..." so RUN_B's event is the newest
    events = [fe("1", T2, RUN_A), fe("2", T2, RUN_B), fe("0", T1, RUN_C)]
    assert edge_of(fold(events), EXT, INT)["lastRunId"] == RUN_B
    assert edge_of(fold(reversed(events)), EXT, INT)["lastRunId"] == RUN_B


def test_last_run_id_is_null_when_the_newest_event_has_none() -> None:
    events = [fe("1", T1, RUN_A), fe("2", T2, None)]
    assert edge_of(fold(events), EXT, INT)["lastRunId"] is None
    # an older event without runId does not clear it
    assert edge_of(fold([fe("1", T2, RUN_A), fe("2", T1, None)]), EXT, INT)["lastRunId"] == RUN_A


def test_events_counts_distinct_accepted_events() -> None:
    e1, e2, e3 = fe("1", T1), fe("2", T1), fe("3", T2)
    assert edge_of(fold([e1, e1, e1]), EXT, INT)["events"] == 1
    assert edge_of(fold([e1, e2, e1, e3, e2]), EXT, INT)["events"] == 3


def test_each_edge_folds_only_the_events_that_produced_it() -> None:
    # e1: EXT->INT and EXT2->INT (two inputs, one output); e2: EXT->INT2
    e1 = fe("1", T1, RUN_A, ("dbt", "a"), edges=[(EXT, INT), (EXT2, INT)])
    e2 = fe("2", T2, RUN_B, ("dbt", "b"), edges=[(EXT, INT2), (EXT, INT)])
    snap = fold([e1, e2])
    assert edge_of(snap, EXT, INT) == {
        "source": ref(EXT), "target": ref(INT),
        "jobs": [{"namespace": "dbt", "name": "a"}, {"namespace": "dbt", "name": "b"}],
        "firstSeen": T1, "lastSeen": T2, "lastRunId": RUN_B, "events": 2,
    }  # fmt: skip
    assert edge_of(snap, EXT2, INT) == {
        "source": ref(EXT2), "target": ref(INT),
        "jobs": [{"namespace": "dbt", "name": "a"}],
        "firstSeen": T1, "lastSeen": T1, "lastRunId": RUN_A, "events": 1,
    }  # fmt: skip
    assert edge_of(snap, EXT, INT2)["events"] == 1
    assert len(snap["edges"]) == 3
    assert len(snap["nodes"]) == 4


# ------------------------------------------------------------------ node type


def test_default_types_by_side() -> None:
    assert types_of(fold([fe("1", T1)])) == {EXT: "External Node", INT: "TABLE"}


def test_type_from_the_newest_event_carrying_one() -> None:
    events = [
        fe("1", T1, types={INT: "VIEW", EXT: "TABLE"}),
        fe("2", T3, types={INT: "MODEL"}),  # newest carrying a type for INT
        fe("3", T2, types={INT: "FILE"}),
        fe("f", T2),  # newer than T1 but carries no type: changes nothing
    ]
    assert types_of(fold(events)) == {INT: "MODEL", EXT: "TABLE"}


def test_type_not_reset_by_a_newer_event_without_one() -> None:
    events = [fe("1", T1, types={INT: "VIEW"}), fe("2", T3)]
    assert types_of(fold(events))[INT] == "VIEW"


def test_type_tie_on_event_time_broken_by_content_hash() -> None:
    events = [fe("a", T2, types={INT: "VIEW"}), fe("b", T2, types={INT: "STREAM"})]
    assert types_of(fold(events))[INT] == "STREAM"  # "bbbb..." > "aaaa..."
    assert types_of(fold(reversed(events)))[INT] == "STREAM"


def test_nodes_are_visible_only_when_an_edge_touches_them() -> None:
    # e1 types INT2 but its only edge is EXT->INT
    e1 = fe("1", T1, types={INT2: "VIEW"})
    snap = fold([e1])
    assert INT2 not in types_of(snap)
    assert len(snap["nodes"]) == 2
    # once an edge touches INT2 it shows, with the type e1 gave it
    e2 = fe("2", T1, edges=[(EXT2, INT2)])
    assert types_of(fold([e1, e2]))[INT2] == "VIEW"


# ------------------------------------------------------------------ fold laws on examples


def test_apply_twice_changes_nothing() -> None:
    events = [fe("1", T1, types={INT: "VIEW"}), fe("2", T2, RUN_B)]
    once = fold(events)
    assert fold(events + events) == once
    assert fold([events[1], events[0], events[1]]) == once


# ------------------------------------------------------------------ from client events


def _independent_hash(raw: bytes) -> str:
    text = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_client_events_tie_on_time_then_hash() -> None:
    rule, limits = MixRule("mixed", ["snowflake://*"]), Limits()
    # same eventTime written two ways; different runs (one in upper case)
    raws = [
        ol_event(event_time="2026-03-01T10:00:00Z", run_id=RUN_A.upper(), job=("dbt", "a")),
        ol_event(event_time="2026-03-01T11:00:00+01:00", run_id=RUN_B, job=("dbt", "b")),
        ol_event(event_time="2026-03-01T09:59:59.999999Z", run_id=RUN_C, job=("dbt", "c")),
    ]
    graph = Graph()
    for raw in raws + raws[:1]:
        result = classify(raw, rule, limits)
        assert isinstance(result, Classified)
        assert isinstance(result.outcome, Accepted)
        graph.apply(result.outcome.fold)
    newest = max(raws[:2], key=_independent_hash)  # the two 10:00:00Z events
    expected_run = RUN_A if newest is raws[0] else RUN_B
    edge = edge_of(graph.snapshot(), EXT, INT)
    assert edge["lastRunId"] == expected_run  # lower case either way
    assert edge["firstSeen"] == "2026-03-01T09:59:59.999999Z"
    assert edge["lastSeen"] == "2026-03-01T10:00:00.000000Z"
    assert edge["events"] == 3
    assert [j["name"] for j in edge["jobs"]] == ["a", "b", "c"]
