"""The packed edge records (docs/redis.md) decoded straight into an answer's edges."""

from __future__ import annotations

from processor.adapters.redis_edge_codec import decode_query_edges
from processor.core.query_results import QueryEdge

A, B, C = "a" * 32, "b" * 32, "c" * 32
NAMES = {A: ("pg", "raw"), B: ("sf", "STG"), C: ("sf", "MART")}
T1 = "2026-03-01T10:00:00.000000Z"
T2 = "2026-03-02T10:00:00.000000Z"


def _packed(first: str, last: str, run: str, events: int, *jobs: str) -> bytes:
    # firstSeen, then the run rank whose leading eventTime is lastSeen (fold_graph.lua)
    head = f"{first}{last}0123456789abcdef0123456789abcdef"
    return "\n".join([head, run, str(events), "12345", *jobs]).encode()


def test_edges_keep_their_order_and_fields() -> None:
    packed = [
        _packed(T1, T2, "run-1", 3, '["dbt","z"]', '["airflow","a"]'),
        _packed(T2, T2, "", 1, '["airflow","a"]'),
    ]
    got = decode_query_edges(A + B, B + C, packed, NAMES)
    assert got == [
        QueryEdge(
            source=("pg", "raw"),
            target=("sf", "STG"),
            jobs=(("airflow", "a"), ("dbt", "z")),  # sorted by (namespace, name)
            first_seen=T1,
            last_seen=T2,
            last_run_id="run-1",
            events=3,
        ),
        QueryEdge(("sf", "STG"), ("sf", "MART"), (("airflow", "a"),), T2, T2, None, 1),
    ]


def test_a_job_name_with_commas_and_quotes_is_one_job() -> None:
    job = '["s3://bucket","load \\"a,b\\"\\\\n"]'
    (edge,) = decode_query_edges(A, C, [_packed(T1, T1, "r", 2, job)], NAMES)
    assert edge.jobs == (("s3://bucket", 'load "a,b"\\n'),)


def test_no_edges_and_an_edge_without_a_job() -> None:
    assert decode_query_edges("", "", [], NAMES) == []
    head = f"{T1}{T2}rank".encode()
    (edge,) = decode_query_edges(A, B, [head + b"\nr\n4\n99"], NAMES)
    assert (edge.jobs, edge.events, edge.last_seen) == ((), 4, T2)
