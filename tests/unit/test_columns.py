"""Column lineage in the pure core (docs/design.md section 5a): which pieces
of the facet make column edges, the skips, the mix rule, the cap, the fold's
attributes and the canonical column snapshot."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from processor.core.column_snapshot import build_column_snapshot, column_records
from processor.core.control import DeleteRequest
from processor.core.fold import Graph
from processor.core.fold_payload import decode_batch, encode_batch
from processor.core.identity import node_id
from processor.core.pipeline import Accepted, Classified, Limits, classify
from processor.core.rules import MixRule
from processor.core.snapshot import snapshot_hash
from tests.column_events import (
    DIRECT_IDENTITY,
    DIRECT_MASKED,
    EXT,
    EXT2,
    INDIRECT_FILTER,
    INDIRECT_JOIN,
    INT,
    INT2,
    column_event,
    column_facet,
    spark_facet,
)
from tests.events import raw_event

MIXED = MixRule("mixed", ["snowflake://*"])
ANY = MixRule("any", ["snowflake://*"])
LIMITS = Limits()


def _accepted(raw: bytes, rule: MixRule = MIXED, limits: Limits = LIMITS) -> Accepted:
    c = classify(raw, rule, limits)
    assert isinstance(c, Classified), c
    assert isinstance(c.outcome, Accepted), c.outcome
    return c.outcome


def _columns(raw: bytes, rule: MixRule = MIXED, limits: Limits = LIMITS) -> dict[str, Any]:
    g = Graph()
    g.apply(_accepted(raw, rule, limits).fold)
    return g.column_snapshot()


def _pairs(snapshot: dict[str, Any]) -> list[tuple[tuple[str, ...], tuple[Any, ...]]]:
    return [
        (
            (e["source"]["namespace"], e["source"]["name"], e["source"]["field"]),
            (e["target"]["namespace"], e["target"]["name"], e["target"]["field"]),
        )
        for e in snapshot["columnEdges"]
    ]


def test_fields_and_dataset_inputs_make_column_edges_with_their_transformations() -> None:
    facet = column_facet(
        {"id": [((*EXT, "id"), [DIRECT_IDENTITY])], "total": [((*EXT, "amount"), [])]},
        dataset=[((*EXT, "status"), [INDIRECT_FILTER])],
        legacy={"total": "MASKED"},
    )
    snap = _columns(column_event({INT: facet}, event_time="2026-03-01T10:00:00Z"))
    t = "2026-03-01T10:00:00.000000Z"
    job = [{"namespace": "spark", "name": "orders_job"}]
    assert snap == {
        "columnEdges": [
            {
                "source": {"namespace": EXT[0], "name": EXT[1], "field": "amount"},
                "target": {"namespace": INT[0], "name": INT[1], "field": "total"},
                # no transformation listed: the deprecated transformationType, MASKED masks
                "transformations": [{"type": "MASKED", "subtype": "", "masking": True}],
                "jobs": job,
                "firstSeen": t,
                "lastSeen": t,
            },
            {
                "source": {"namespace": EXT[0], "name": EXT[1], "field": "id"},
                "target": {"namespace": INT[0], "name": INT[1], "field": "id"},
                "transformations": [{"type": "DIRECT", "subtype": "IDENTITY", "masking": False}],
                "jobs": job,
                "firstSeen": t,
                "lastSeen": t,
            },
            {
                "source": {"namespace": EXT[0], "name": EXT[1], "field": "status"},
                "target": {"namespace": INT[0], "name": INT[1], "field": None},
                "transformations": [{"type": "INDIRECT", "subtype": "FILTER", "masking": False}],
                "jobs": job,
                "firstSeen": t,
                "lastSeen": t,
            },
        ]
    }


def test_listed_transformations_win_over_the_deprecated_type() -> None:
    facet = column_facet({"id": [((*EXT, "id"), [DIRECT_MASKED])]}, legacy={"id": "IDENTITY"})
    (edge,) = _columns(column_event({INT: facet}))["columnEdges"]
    assert edge["transformations"] == [
        {"type": "DIRECT", "subtype": "TRANSFORMATION", "masking": True}
    ]


def test_the_input_dataset_need_not_be_listed_in_inputs() -> None:
    facet = column_facet({"id": [((*EXT2, "id"), [DIRECT_IDENTITY])]})
    snap = _columns(column_event({INT: facet}, inputs=[EXT]))
    assert _pairs(snap) == [((*EXT2, "id"), (*INT, "id"))]


def test_the_mix_rule_applies_to_the_dataset_pair_of_each_column_edge() -> None:
    facet = column_facet(
        {
            "a": [((*EXT, "a"), [DIRECT_IDENTITY])],  # external -> internal: kept
            "b": [((*INT2, "b"), [DIRECT_IDENTITY])],  # internal -> internal: same side
            "c": [((*INT, "c"), [DIRECT_IDENTITY])],  # the output itself
        }
    )
    raw = column_event({INT: facet})
    assert _pairs(_columns(raw)) == [((*EXT, "a"), (*INT, "a"))]
    assert dict(_accepted(raw).column_dropped) == {"same_side": 1, "same_dataset": 1}
    # under "any" only the pair of one dataset with itself goes
    assert _pairs(_columns(raw, ANY)) == [((*EXT, "a"), (*INT, "a")), ((*INT2, "b"), (*INT, "b"))]


def test_a_malformed_element_counts_as_malformed_before_the_mix_rule() -> None:
    # an empty field is a piece of another shape: skipped before the rule
    # looks at its dataset pair, whichever dataset it names
    facet = column_facet(
        {
            "a": [((*INT2, ""), [DIRECT_IDENTITY]), ((*INT2, "x"), [DIRECT_IDENTITY])],
            "b": [((*EXT, ""), [DIRECT_IDENTITY]), ((*EXT, "b"), [DIRECT_IDENTITY])],
        }
    )
    raw = column_event({INT: facet})
    assert _pairs(_columns(raw)) == [((*EXT, "b"), (*INT, "b"))]
    assert dict(_accepted(raw).column_dropped) == {"malformed": 2, "same_side": 1}


def _raw_with_facet(facet: Any) -> bytes:
    return raw_event(
        outputs=[{"namespace": INT[0], "name": INT[1], "facets": {"columnLineage": facet}}]
    )


GOOD = {"namespace": EXT[0], "name": EXT[1], "field": "id"}


def test_malformed_pieces_of_every_kind_are_skipped_and_the_event_is_still_accepted() -> None:
    long_name = "n" * 1001
    facet = {
        "fields": {
            "ok": {"inputFields": [GOOD, {**GOOD, "field": "id2", "transformations": "x"}]},
            "not_an_object": 3,
            "no_input_list": {"inputFields": {"a": GOOD}},
            "": {"inputFields": [GOOD]},  # empty output field
            "f" * 1001: {"inputFields": [GOOD]},  # longer than the name bound
            "bad_elements": {
                "inputFields": [
                    "text",
                    {**GOOD, "field": ""},
                    {**GOOD, "field": None},
                    {**GOOD, "namespace": 7},
                    {**GOOD, "name": "a\x00b"},
                    {**GOOD, "name": long_name},
                    {"namespace": EXT[0], "name": EXT[1]},
                ]
            },
            "bad_transformations": {
                "inputFields": [
                    {
                        **GOOD,
                        "transformations": [
                            "DIRECT",
                            {"type": ""},
                            {"type": 1},
                            {"subtype": "JOIN"},
                            {"type": "INDIRECT", "subtype": 5, "masking": "yes"},
                        ],
                    }
                ]
            },
        },
        "dataset": [GOOD, 4, {**GOOD, "field": ""}],
    }
    snap = _columns(_raw_with_facet(facet))
    got = {
        (e["source"]["field"], e["target"]["field"]): e["transformations"]
        for e in snap["columnEdges"]
    }
    assert got == {
        ("id", "ok"): [],
        ("id2", "ok"): [],
        # only the one well-formed transformation; a non-string subtype is "",
        # masking only when it is true
        ("id", "bad_transformations"): [{"type": "INDIRECT", "subtype": "", "masking": False}],
        ("id", None): [],
    }
    # 4 bad fields entries, 7 bad elements, 2 bad dataset elements
    assert dict(_accepted(_raw_with_facet(facet)).column_dropped) == {"malformed": 13}


def test_a_facet_of_the_wrong_shape_is_skipped() -> None:
    for facet in ("x", [], {"fields": []}, {"fields": {}, "dataset": {}}):
        accepted = _accepted(_raw_with_facet(facet))
        assert accepted.fold.columns == ()
        assert accepted.fold.edges  # the dataset edges are kept


def test_namespaces_have_no_length_bound() -> None:
    ns = "postgres://" + "h" * 2000
    facet = {"fields": {"id": {"inputFields": [{**GOOD, "namespace": ns}]}}}
    assert _pairs(_columns(_raw_with_facet(facet))) == [((ns, EXT[1], "id"), (*INT, "id"))]


def test_past_the_cap_the_event_keeps_its_dataset_edges_and_folds_no_column_edge() -> None:
    # 4 fields, each from 1 DIRECT and 2 INDIRECT inputs: 4 x 3 = 12 distinct edges
    raw = column_event({INT: spark_facet(EXT, 4, 2)})
    assert len(_accepted(raw, limits=Limits(max_column_edges_per_event=12)).fold.columns) == 12
    over = _accepted(raw, limits=Limits(max_column_edges_per_event=11))
    assert over.fold.columns == ()
    assert over.fold.edges
    assert dict(over.column_dropped) == {"too_many": 12}


def test_repeated_inputs_join_their_transformations_on_one_edge() -> None:
    facet = column_facet(
        {"id": [((*EXT, "id"), [DIRECT_IDENTITY]), ((*EXT, "id"), [INDIRECT_JOIN])]}
    )
    (edge,) = _columns(column_event({INT: facet}))["columnEdges"]
    assert [t["type"] for t in edge["transformations"]] == ["DIRECT", "INDIRECT"]


def _fold(*raws: bytes) -> Graph:
    g = Graph()
    for raw in raws:
        g.apply(_accepted(raw).fold)
    return g


def test_attributes_are_joins_over_events() -> None:
    a = column_event(
        {INT: column_facet({"id": [((*EXT, "id"), [DIRECT_IDENTITY])]})},
        job=("spark", "a"),
        event_time="2026-03-01T10:00:00Z",
    )
    b = column_event(
        {INT: column_facet({"id": [((*EXT, "id"), [INDIRECT_JOIN])]})},
        job=("dbt", "b"),
        event_time="2026-03-02T10:00:00Z",
    )
    (edge,) = _fold(b, a, b).column_snapshot()["columnEdges"]
    assert edge["firstSeen"] == "2026-03-01T10:00:00.000000Z"
    assert edge["lastSeen"] == "2026-03-02T10:00:00.000000Z"
    assert edge["jobs"] == [{"namespace": "dbt", "name": "b"}, {"namespace": "spark", "name": "a"}]
    assert edge["transformations"] == [
        {"type": "DIRECT", "subtype": "IDENTITY", "masking": False},
        {"type": "INDIRECT", "subtype": "JOIN", "masking": False},
    ]
    assert _fold(a, b).column_snapshot() == _fold(b, a, a).column_snapshot()


def test_deletes_of_the_dataset_pair_or_of_either_end_hide_column_edges() -> None:
    raw = column_event(
        {INT: column_facet({"id": [((*EXT, "id"), [DIRECT_IDENTITY])]})},
        event_time="2026-03-01T10:00:00Z",
    )
    s, t = node_id(*EXT), node_id(*INT)
    for request in (
        DeleteRequest(s, t, "2026-03-01T11:00:00.000000Z"),
        DeleteRequest(s, None, "2026-03-01T11:00:00.000000Z"),
        DeleteRequest(None, t, "2026-03-01T10:00:00.000000Z"),  # not after: hidden
    ):
        g = _fold(raw)
        g.delete(request)
        assert g.column_snapshot() == {"columnEdges": []}
    g = _fold(raw)
    g.delete(DeleteRequest(s, t, "2026-03-01T09:00:00.000000Z"))  # older: hides nothing
    assert len(g.column_snapshot()["columnEdges"]) == 1
    # a newer event brings it back
    later = column_event(
        {INT: column_facet({"id": [((*EXT, "id"), [DIRECT_IDENTITY])]})},
        event_time="2026-03-01T12:00:00Z",
    )
    g = _fold(raw)
    g.delete(DeleteRequest(s, t, "2026-03-01T11:00:00.000000Z"))
    g.apply(_accepted(later).fold)
    assert len(g.column_snapshot()["columnEdges"]) == 1


def test_retention_floor_hides_old_column_edges() -> None:
    raw = column_event(
        {INT: column_facet({"id": [((*EXT, "id"), [DIRECT_IDENTITY])]})},
        event_time="2026-03-01T10:00:00Z",
    )
    g = _fold(raw)
    assert g.column_snapshot("2026-03-01T10:00:00.000000Z") == {"columnEdges": []}
    assert len(g.column_snapshot("2026-03-01T09:59:59.000000Z")["columnEdges"]) == 1


def test_the_dataset_snapshot_is_unchanged_by_column_lineage() -> None:
    plain = raw_event()
    with_columns = _raw_with_facet({"fields": {"id": {"inputFields": [GOOD]}}})
    a, b = _fold(plain), _fold(with_columns)
    assert a.snapshot()["edges"][0]["source"] == b.snapshot()["edges"][0]["source"]
    assert a.snapshot()["nodes"] == b.snapshot()["nodes"]


def test_snapshot_order_null_target_field_first_and_masking_false_first() -> None:
    facet = column_facet(
        {"b": [((*EXT, "x"), [DIRECT_MASKED, ("DIRECT", "TRANSFORMATION", False)])]},
        dataset=[((*EXT, "x"), [INDIRECT_FILTER])],
    )
    snap = _columns(column_event({INT: facet}))
    assert [e["target"]["field"] for e in snap["columnEdges"]] == [None, "b"]
    assert [t["masking"] for t in snap["columnEdges"][1]["transformations"]] == [False, True]


def test_the_column_hash_is_sha256_of_the_canonical_bytes() -> None:
    g = _fold(column_event({INT: spark_facet(EXT, 2, 1)}))
    snap = build_column_snapshot(column_records(g.columns))
    text = json.dumps(snap, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    assert snapshot_hash(snap) == hashlib.sha256(text.encode()).hexdigest()


def test_the_payload_carries_column_edges_and_decodes_to_the_same_fold() -> None:
    raws = [
        column_event({INT: spark_facet(EXT, 3, 2)}, event_time="2026-03-01T10:00:00Z"),
        column_event({INT2: spark_facet(EXT2, 2, 1)}, event_time="2026-03-02T10:00:00Z"),
    ]
    folds = [_accepted(r).fold for r in raws]
    decoded = decode_batch(encode_batch([], folds)).graph
    assert decoded.column_snapshot() == _fold(*raws).column_snapshot()
    assert len(decoded.column_snapshot()["columnEdges"]) == 3 * (1 + 2) + 2 * (1 + 1)


def test_masking_is_true_only_for_true_even_after_a_true_in_the_same_event() -> None:
    def element(field: str, masking: Any) -> dict[str, Any]:
        t = {"type": "DIRECT", "subtype": "IDENTITY", "masking": masking}
        return {**GOOD, "field": field, "transformations": [t]}

    facet = {
        "fields": {
            "a": {"inputFields": [element("x", True)]},
            "b": {"inputFields": [element("y", 1)]},  # 1 == True in Python, not true in JSON
            "c": {"inputFields": [element("z", 1.0)]},
        }
    }
    snap = _columns(_raw_with_facet(facet))
    got = {e["target"]["field"]: e["transformations"][0]["masking"] for e in snap["columnEdges"]}
    assert got == {"a": True, "b": False, "c": False}


def test_the_payload_sends_a_pairs_column_pairs_in_blocks_of_one_value() -> None:
    a = column_event(
        {INT: column_facet({"id": [((*EXT, "id"), [DIRECT_IDENTITY])],
                            "amount": [((*EXT, "amount"), [DIRECT_IDENTITY])]})},
        job=("spark", "a"),
        event_time="2026-03-01T10:00:00Z",
    )  # fmt: skip
    b = column_event(
        {INT: column_facet({"id": [((*EXT, "id"), [INDIRECT_JOIN])]})},
        job=("spark", "b"),
        event_time="2026-03-02T10:00:00Z",
    )
    body = json.loads(encode_batch([], [_accepted(a).fold, _accepted(b).fold]))
    # by hand: vocabulary in first-use order, one value per event and set
    assert body["cv"] == [
        '["spark","a"]',
        'x["DIRECT","IDENTITY",false]',
        '["spark","b"]',
        'x["INDIRECT","JOIN",false]',
    ]
    assert body["cc"] == [[0, 1], [2, 3]]
    assert body["ct"] == ["20260301100000000000", "20260302100000000000"]
    assert body["cw"] == [0, 0, 0, 1, 1, 1]
    # one row for the pair: event a's block (value 0, two column pairs), then
    # event b's (value 1, one); the row names "id" twice, so it is listed in cr
    (row,) = body["columns"]
    assert row[:4] == [node_id(*EXT), node_id(*INT), 0, 2]
    assert set(row[4:6]) == {"id\x00id", "amount\x00amount"}  # in the facet's order
    assert row[6:] == [1, 1, "id\x00id"]
    assert body["cr"] == [1]
    one = json.loads(encode_batch([], [_accepted(a).fold]))
    assert one["cr"] == []
