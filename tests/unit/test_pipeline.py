"""classify: the steps of docs/design.md section 3, in order, on raw message bytes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import pytest

from processor.core.identity import node_id
from processor.core.pipeline import (
    Accepted,
    Classified,
    FoldEvent,
    Ignored,
    Limits,
    NodeUpdate,
    Rejected,
    classify,
)
from processor.core.reasons import DATASET_EVENT, JOB_EVENT, Reason, SkipReason
from processor.core.rules import EdgePlan, MixRule
from tests.events import (
    OMIT,
    RUN_ID,
    dataset,
    dumps,
    ol_dataset_event,
    ol_event,
    ol_job_event,
    raw_event,
)

RULE = MixRule("mixed", ["snowflake://*"])
ANY = MixRule("any", ["snowflake://*"])
LIMITS = Limits()

EXT = ("postgres://db", "public.orders")
INT = ("snowflake://acme", "RAW.ORDERS")


def dead_lettered(raw: bytes | None, limits: Limits = LIMITS) -> Rejected:
    """Steps 1-3: rejected before any content hash exists."""
    result = classify(raw, RULE, limits)
    assert isinstance(result, Rejected), result
    return result


def classified(raw: bytes, rule: MixRule = RULE, limits: Limits = LIMITS) -> Classified:
    result = classify(raw, rule, limits)
    assert isinstance(result, Classified), result
    return result


def outcome_reason(raw: bytes, rule: MixRule = RULE, limits: Limits = LIMITS) -> str:
    outcome = classified(raw, rule, limits).outcome
    assert isinstance(outcome, Rejected), outcome
    return outcome.reason


def accepted(raw: bytes, rule: MixRule = RULE, limits: Limits = LIMITS) -> Accepted:
    outcome = classified(raw, rule, limits).outcome
    assert isinstance(outcome, Accepted), outcome
    return outcome


def independent_hash(raw: bytes) -> str:
    """sha256 of canonical JSON, computed with the standard library."""
    text = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ids(*pairs: tuple[tuple[str, str], tuple[str, str]]) -> set[tuple[str, str]]:
    return {(node_id(*s), node_id(*t)) for s, t in pairs}


def reasons_of(results: Iterable[Rejected | Classified]) -> list[str]:
    out = []
    for r in results:
        if isinstance(r, Rejected):
            out.append(r.reason)
        else:
            assert isinstance(r.outcome, Rejected)
            out.append(r.outcome.reason)
    return out


# ------------------------------------------------------------------ codes and defaults


def test_reason_codes_are_the_designs() -> None:
    assert {r.value for r in Reason} >= {
        "too_large",
        "invalid_json",
        "invalid_event",
        "name_too_long",
        "mix_rule_internal_only",
        "mix_rule_external_only",
        "no_lineage",
        "too_many_edges",
    }
    assert DATASET_EVENT == "DATASET_EVENT"
    assert JOB_EVENT == "JOB_EVENT"


def test_default_limits() -> None:
    assert LIMITS.max_event_bytes == 1024 * 1024  # 1 MiB
    assert LIMITS.max_depth == 64
    assert LIMITS.max_name_length == 1000
    assert LIMITS.max_edges_per_event == 10_000
    assert LIMITS.strict_profile is False


# ------------------------------------------------------- step 6: too_many_edges


def _wide(n_in: int, n_out: int, shared: int = 0) -> bytes:
    ins = [("postgres://db", f"in{i}") for i in range(n_in)]
    outs = [("snowflake://acme", f"OUT{i}") for i in range(n_out - shared)] + ins[:shared]
    return ol_event(inputs=ins, outputs=outs)


def test_candidate_edges_past_the_cap_are_dead_lettered_as_too_many_edges() -> None:
    # 101 x 100 = 10,100 candidate edges > 10,000
    c = classify(_wide(101, 100), RULE, LIMITS)
    assert isinstance(c, Classified)
    assert isinstance(c.outcome, Rejected)
    assert c.outcome.reason == "too_many_edges"
    assert "101 inputs x 100 outputs make 10100 candidate edges" in c.outcome.error


def test_the_edge_cap_is_inclusive_and_self_pairs_do_not_count() -> None:
    exactly = classify(_wide(100, 100), RULE, LIMITS)  # 100 x 100 = 10,000: allowed
    assert isinstance(exactly, Classified)
    assert isinstance(exactly.outcome, Accepted)
    assert len(exactly.outcome.fold.edges) == 10_000
    # 2 x 3 with one dataset on both sides: 6 - 1 = 5 candidates
    small = Limits(max_edges_per_event=5)
    c = classify(_wide(2, 3, shared=1), RULE, small)
    assert isinstance(c, Classified)
    assert not isinstance(c.outcome, Rejected)
    over = classify(_wide(2, 3, shared=1), RULE, Limits(max_edges_per_event=4))
    assert isinstance(over, Classified)
    assert isinstance(over.outcome, Rejected)
    assert over.outcome.reason == "too_many_edges"


# ------------------------------------------------------------------ step 1: too_large


def test_too_large_is_checked_first_even_for_invalid_json() -> None:
    assert dead_lettered(b"\xff" * (1024 * 1024 + 1)).reason == Reason.TOO_LARGE
    small = Limits(max_event_bytes=10)
    assert dead_lettered(b"not json at all", small).reason == "too_large"


def test_size_limit_is_inclusive() -> None:
    raw = ol_event()
    assert isinstance(classified(raw, limits=Limits(max_event_bytes=len(raw))).outcome, Accepted)
    rejected = dead_lettered(raw, Limits(max_event_bytes=len(raw) - 1))
    assert rejected.reason == Reason.TOO_LARGE
    assert str(len(raw)) in rejected.error


def test_default_size_limit_counts_bytes() -> None:
    raw = ol_event()
    padded = raw + b" " * (1024 * 1024 - len(raw))  # exactly 1 MiB: still fine
    assert isinstance(classified(padded).outcome, Accepted)
    assert dead_lettered(padded + b" ").reason == Reason.TOO_LARGE


# ------------------------------------------------------------------ step 2: invalid_json


@pytest.mark.parametrize(
    "raw", [None, b"", b"\xef\xbb\xbf{}", b"[]", b'"x"', b"{} {}", b'{"a":NaN}', b'{"a":1e400}']
)
def test_invalid_json_is_dead_lettered(raw: bytes | None) -> None:
    assert dead_lettered(raw).reason == Reason.INVALID_JSON


def test_depth_limit_is_taken_from_limits() -> None:
    # event (1) > run (2) > facets (3) > a (4); inputs: event (1) > list (2) > dataset (3)
    raw = raw_event(run={"runId": RUN_ID, "facets": {"a": {}}})
    assert isinstance(classified(raw, limits=Limits(max_depth=4)).outcome, Accepted)
    assert dead_lettered(raw, Limits(max_depth=3)).reason == Reason.INVALID_JSON


# ------------------------------------------------------------------ step 3: invalid_event


def test_invalid_event_with_field_path() -> None:
    bad = raw_event(outputs=[{"namespace": "snowflake://acme", "name": ""}])
    rejected = dead_lettered(bad)
    assert rejected.reason == Reason.INVALID_EVENT
    assert rejected.error.startswith("outputs[0].name: ")


@pytest.mark.parametrize("event_type", ["START", "FAIL", "OTHER"])
def test_invalid_event_that_is_not_complete_is_invalid_event(event_type: str) -> None:
    # step 3 comes before step 5: a broken START is dead-lettered, not ignored
    bad = raw_event(eventType=event_type, eventTime="2026-03-01")
    assert dead_lettered(bad).reason == Reason.INVALID_EVENT


def test_invalid_static_events_are_invalid_event() -> None:
    obj = json.loads(ol_dataset_event())
    obj["dataset"]["name"] = ""
    assert dead_lettered(dumps(obj)).reason == Reason.INVALID_EVENT


def test_strict_profile_is_taken_from_limits() -> None:
    raw = raw_event(producer=OMIT)
    assert isinstance(classified(raw).outcome, Accepted)
    rejected = dead_lettered(raw, Limits(strict_profile=True))
    assert rejected.reason == Reason.INVALID_EVENT
    assert "producer" in rejected.error


# ------------------------------------------------------------------ step 4: the hash


def test_content_hash_of_a_valid_message() -> None:
    raw = ol_event()
    assert classified(raw).content_hash == independent_hash(raw)


def test_respelled_event_has_the_same_hash_and_outcome() -> None:
    raw = ol_event()
    respelled = json.dumps(json.loads(raw), indent=3).encode()
    assert respelled != raw
    assert classified(respelled) == classified(raw)


def test_duplicate_of_a_rule_rejected_event_is_still_rejected_by_classify() -> None:
    # dedup (step 4) is the worker's, against Redis; the pure classify says the
    # same thing twice, with the hash the worker will find already seen
    raw = ol_event(inputs=[INT], outputs=[("snowflake://acme", "MART.ORDERS")])
    first, second = classified(raw), classified(raw)
    assert first == second
    assert isinstance(first.outcome, Rejected)
    assert first.outcome.reason == Reason.MIX_RULE_INTERNAL_ONLY
    assert first.content_hash == independent_hash(raw)


# ------------------------------------------------------------------ step 5: ignored


@pytest.mark.parametrize("event_type", ["START", "RUNNING", "ABORT", "FAIL", "OTHER"])
def test_non_complete_run_events_are_ignored(event_type: str) -> None:
    result = classified(ol_event(event_type=event_type))
    assert result.outcome == Ignored(event_type)


def test_static_events_are_ignored_with_their_label() -> None:
    assert classified(ol_dataset_event()).outcome == Ignored(DATASET_EVENT)
    assert classified(ol_job_event()).outcome == Ignored(JOB_EVENT)


def test_ignored_comes_before_name_length_and_mix_rule() -> None:
    long = ("snowflake://acme", "x" * 2000)
    assert classified(ol_event(event_type="START", outputs=[long])).outcome == Ignored("START")
    all_internal = ol_event(event_type="RUNNING", inputs=[INT], outputs=[("snowflake://b", "y")])
    assert classified(all_internal).outcome == Ignored("RUNNING")
    assert classified(raw_event(eventType="FAIL", inputs=[])).outcome == Ignored("FAIL")


# ------------------------------------------------------------------ step 6: name_too_long


@pytest.mark.parametrize(
    ("name", "too_long"),
    [
        ("x" * 1000, False),
        ("x" * 1001, True),
        ("é" * 1000, False),  # 2000 bytes, 1000 code points
        ("é" * 1001, True),
        ("\U0001f600" * 1000, False),  # 4000 bytes, 1000 code points
        ("\U0001f600" * 1001, True),
    ],
)
@pytest.mark.parametrize("side", ["inputs", "outputs"])
def test_name_length_counts_code_points(name: str, too_long: bool, side: str) -> None:
    long_ds = (EXT[0], name) if side == "inputs" else (INT[0], name)
    raw = ol_event(**{side: [long_ds]})  # type: ignore[arg-type]
    outcome = classified(raw).outcome
    if too_long:
        assert isinstance(outcome, Rejected)
        assert outcome.reason == Reason.NAME_TOO_LONG
        assert outcome.error.startswith(f"{side}[0].name: ")
    else:
        assert isinstance(outcome, Accepted)


def test_name_too_long_names_the_dataset_position() -> None:
    raw = ol_event(outputs=[INT, ("snowflake://acme", "y" * 1001)])
    outcome = classified(raw).outcome
    assert isinstance(outcome, Rejected)
    assert outcome.error.startswith("outputs[1].name: ")


def test_name_length_limit_is_taken_from_limits() -> None:
    raw = ol_event(inputs=[("postgres://db", "t")], outputs=[("snowflake://acme", "abcdef")])
    assert outcome_reason(raw, limits=Limits(max_name_length=5)) == Reason.NAME_TOO_LONG
    assert isinstance(classified(raw, limits=Limits(max_name_length=6)).outcome, Accepted)


def test_name_too_long_wins_over_the_mix_rule() -> None:
    long_internal = ol_event(inputs=[INT], outputs=[("snowflake://acme", "z" * 1001)])
    assert outcome_reason(long_internal) == Reason.NAME_TOO_LONG
    no_inputs = raw_event(inputs=[], outputs=[dataset("snowflake://acme", "z" * 1001)])
    assert outcome_reason(no_inputs) == Reason.NAME_TOO_LONG


def test_namespace_length_is_not_limited() -> None:
    raw = ol_event(inputs=[("postgres://" + "h" * 2000, "t")])
    assert isinstance(classified(raw).outcome, Accepted)


# ------------------------------------------------------------------ step 7: mix rule


@pytest.mark.parametrize(
    ("inputs", "outputs", "reason"),
    [
        ([INT], [("snowflake://acme", "B")], Reason.MIX_RULE_INTERNAL_ONLY),
        ([EXT], [("s3://bucket", "b")], Reason.MIX_RULE_EXTERNAL_ONLY),
        ([], [INT], Reason.NO_LINEAGE),
        ([EXT], [], Reason.NO_LINEAGE),
        ([], [], Reason.NO_LINEAGE),
    ],
)
def test_mix_rule_rejections(
    inputs: list[tuple[str, str]], outputs: list[tuple[str, str]], reason: str
) -> None:
    assert outcome_reason(ol_event(inputs=inputs, outputs=outputs)) == reason


@pytest.mark.parametrize("side", ["inputs", "outputs"])
def test_absent_or_null_side_is_no_lineage(side: str) -> None:
    assert outcome_reason(raw_event(**{side: OMIT})) == Reason.NO_LINEAGE
    assert outcome_reason(raw_event(**{side: None})) == Reason.NO_LINEAGE


def test_any_mode_accepts_one_sided_lineage_and_rejects_self_loops_only() -> None:
    raw = ol_event(inputs=[INT], outputs=[("snowflake://acme", "B")])
    assert isinstance(classified(raw, ANY).outcome, Accepted)
    assert outcome_reason(ol_event(inputs=[INT], outputs=[INT]), ANY) == Reason.NO_LINEAGE


# ------------------------------------------------------------------ step 8: accepted


def test_accepted_fold_event() -> None:
    raw = raw_event(
        eventTime="2026-03-01 11:00:00.1234567+01:00",
        run={"runId": RUN_ID.upper()},
        job={"namespace": "dbt", "name": "orders"},
        inputs=[dataset(*EXT)],
        outputs=[dataset(*INT, dataset_type="VIEW")],
    )
    result = accepted(raw)
    fold = result.fold
    assert fold.content_hash == independent_hash(raw)
    assert fold.event_time == "2026-03-01T10:00:00.123456Z"
    assert fold.run_id == RUN_ID  # lowercased
    assert fold.job == ("dbt", "orders")
    assert fold.edges == ((node_id(*EXT), node_id(*INT)),)
    assert set(fold.nodes) == {
        NodeUpdate(node_id(*EXT), *EXT, internal=False, type=None),
        NodeUpdate(node_id(*INT), *INT, internal=True, type="VIEW"),
    }
    assert dict(result.skipped) == {}
    # 128 bits of the content hash break ties (docs/design.md section 5: ties by hash)
    assert fold.rank == fold.event_time + fold.content_hash[:32]


@pytest.mark.parametrize("run", [OMIT, None, {}, {"runId": None}])
def test_accepted_without_run_id(run: Any) -> None:
    assert accepted(raw_event(run=run)).fold.run_id is None


def test_accepted_counts_skipped_edges() -> None:
    ext2 = ("s3://bucket", "b")
    # E->I kept, E->E2 same side, I->I self-loop, I->E2 kept
    raw = ol_event(inputs=[EXT, INT], outputs=[INT, ext2])
    result = accepted(raw)
    assert set(result.fold.edges) == ids((EXT, INT), (INT, ext2))
    assert dict(result.skipped) == {SkipReason.SAME_SIDE: 1, SkipReason.SELF_LOOP: 1}


def test_two_inputs_give_two_edges_to_one_output() -> None:
    ext2 = ("s3://bucket", "b")
    fold = accepted(ol_event(inputs=[EXT, ext2], outputs=[INT])).fold
    assert set(fold.edges) == ids((EXT, INT), (ext2, INT))
    assert len(fold.edges) == 2


def test_dataset_type_outputs_win_and_non_strings_are_ignored() -> None:
    ext2 = ("s3://bucket", "b")
    raw = raw_event(
        inputs=[
            dataset(*INT, dataset_type="VIEW"),  # internal as an input too (a self-loop)
            dataset(*EXT, dataset_type=7),  # not a string: ignored
            dataset(*ext2, dataset_type="FILE"),
        ],
        outputs=[
            dataset(*INT, dataset_type="TABLE"),  # the output mention wins
            dataset(*EXT),  # no type here: the input's non-type stays None
        ],
    )
    fold = accepted(raw).fold
    types = {(n.namespace, n.name): n.type for n in fold.nodes}
    assert types == {INT: "TABLE", EXT: None, ext2: "FILE"}


def test_types_of_datasets_off_every_edge_still_travel() -> None:
    # the event is accepted and carries a type for a same-side dataset that no
    # kept edge touches: the node is typed (it shows once an edge touches it)
    other_ext = ("s3://bucket", "b")
    raw = raw_event(
        inputs=[dataset(*EXT)],
        outputs=[dataset(*INT), dataset(*other_ext, dataset_type="FILE")],
    )
    fold = accepted(raw).fold
    assert fold.edges == ((node_id(*EXT), node_id(*INT)),)
    assert NodeUpdate(node_id(*other_ext), *other_ext, internal=False, type="FILE") in fold.nodes


def test_client_event_with_dataset_types() -> None:
    raw = ol_event(dataset_types={INT: "VIEW"}, run_id=RUN_ID)
    fold = accepted(raw).fold
    assert {n.name: n.type for n in fold.nodes} == {"RAW.ORDERS": "VIEW", "public.orders": None}
    assert fold.run_id == RUN_ID
    assert isinstance(fold, FoldEvent)


# ------------------------------------------------------------------ one outcome each


def test_a_bug_in_a_step_is_an_internal_error_not_an_exception() -> None:
    class Broken(MixRule):
        def plan(self, inputs: Any, outputs: Any) -> EdgePlan:
            raise RuntimeError("boom")

    result = classify(ol_event(), Broken("mixed", ["snowflake://*"]), LIMITS)
    assert isinstance(result, Rejected)
    assert result.reason == Reason.INTERNAL_ERROR
    assert "boom" in result.error


def test_step_order_on_one_family_of_messages() -> None:
    big = Limits(max_event_bytes=400)
    results = [
        classify(b"{" * 401, RULE, big),  # too large and invalid JSON
        classify(b"{" * 10, RULE, big),  # invalid JSON
        classify(raw_event(eventType="START", job=OMIT), RULE, big),  # invalid, not COMPLETE
    ]
    assert reasons_of(results) == ["too_large", "invalid_json", "invalid_event"]
    long_start = raw_event(eventType="START", outputs=[dataset("s", "n" * 2000)])
    ignored = classify(long_start, RULE, LIMITS)
    assert isinstance(ignored, Classified)
    assert ignored.outcome == Ignored("START")
