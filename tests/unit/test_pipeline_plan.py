"""Events of one (inputs, outputs) shape share a cached edge plan
(``core.pipeline_plan``); what each event says of its own datasets, and every
refusal, must still be that event's."""

from __future__ import annotations

from processor.core.identity import node_id
from processor.core.pipeline import Accepted, Classified, Limits, Rejected, classify
from processor.core.pipeline_plan import CACHED_DATASETS
from processor.core.rules import MixRule
from tests.events import dataset, raw_event

RULE = MixRule("mixed", ["snowflake://*"])
SOURCE = ("postgres://shape", "public.source")
TARGET = ("snowflake://shape", "RAW.TARGET")
BESIDE = ("snowflake://shape", "RAW.BESIDE")
DEFAULT = Limits()


def accepted(raw: bytes, limits: Limits = DEFAULT) -> Accepted:
    result = classify(raw, RULE, limits)
    assert isinstance(result, Classified)
    assert isinstance(result.outcome, Accepted), result.outcome
    return result.outcome


def shape_event(beside_type: str | None, source_type: str | None, time: str) -> bytes:
    def ds(key: tuple[str, str], kind: str | None) -> dict[str, object]:
        return dataset(*key) if kind is None else dataset(*key, kind)

    return raw_event(
        eventTime=time,
        inputs=[ds(SOURCE, source_type)],
        outputs=[dataset(*TARGET), ds(BESIDE, beside_type)],
    )


def test_each_event_of_a_shape_keeps_its_own_dataset_types() -> None:
    typed = shape_event("TABLE", "VIEW", "2026-03-01T10:00:00Z")
    plain = shape_event(None, None, "2026-03-01T10:00:01Z")
    first, second, again = accepted(typed), accepted(plain), accepted(typed)
    source, target, beside = node_id(*SOURCE), node_id(*TARGET), node_id(*BESIDE)
    # An external input and two internal outputs: both pairs cross.
    assert first.fold.edges == ((source, target), (source, beside))
    assert second.fold.edges == first.fold.edges
    assert [(n.node_id, n.type) for n in first.fold.nodes] == [
        (source, "VIEW"),
        (target, None),
        (beside, "TABLE"),
    ]
    assert [(n.node_id, n.type) for n in second.fold.nodes] == [
        (source, None),
        (target, None),
        (beside, None),
    ]
    assert again == first


def test_a_typed_dataset_outside_every_edge_is_a_node_of_that_event_only() -> None:
    # An internal input, an external output and an internal one: A -> LONE is
    # same side, so LONE is a node only when this event gives it a type.
    inputs = [dataset("snowflake://off", "A")]
    lone = ("snowflake://off", "LONE")
    out = ("s3://off", "out")
    with_type = raw_event(inputs=inputs, outputs=[dataset(*out), dataset(*lone, "TABLE")])
    without = raw_event(inputs=inputs, outputs=[dataset(*out), dataset(*lone)])
    typed = accepted(with_type)
    plain = accepted(without)
    a, o, lone_id = node_id("snowflake://off", "A"), node_id(*out), node_id(*lone)
    assert typed.fold.edges == plain.fold.edges == ((a, o),)
    assert typed.skipped == plain.skipped == (("same_side", 1),)
    assert [(n.node_id, n.type) for n in typed.fold.nodes] == [
        (a, None),
        (o, None),
        (lone_id, "TABLE"),
    ]
    assert [n.node_id for n in plain.fold.nodes] == [a, o]  # the plan's ids were not changed
    assert [n.node_id for n in accepted(without).fold.nodes] == [a, o]


def test_a_refused_shape_is_refused_every_time_with_the_same_reason() -> None:
    internal_only = raw_event(
        inputs=[dataset("snowflake://r", "A")], outputs=[dataset("snowflake://r", "B")]
    )
    results = [classify(internal_only, RULE, Limits()) for _ in range(3)]
    outcomes = [r.outcome for r in results if isinstance(r, Classified)]
    assert len(outcomes) == 3
    assert all(isinstance(o, Rejected) for o in outcomes)
    assert {o.reason for o in outcomes if isinstance(o, Rejected)} == {"mix_rule_internal_only"}
    assert len(set(outcomes)) == 1


def test_the_name_limit_is_part_of_what_a_shape_is_planned_with() -> None:
    raw = raw_event(
        inputs=[dataset("postgres://n", "x" * 20)], outputs=[dataset("snowflake://n", "y")]
    )
    assert accepted(raw, Limits(max_name_length=20)).fold.edges
    result = classify(raw, RULE, Limits(max_name_length=19))
    assert isinstance(result, Classified)
    assert result.outcome == Rejected(
        "name_too_long", "inputs[0].name: 20 characters is more than the limit of 19"
    )


def test_a_shape_too_large_to_cache_gives_the_same_edges() -> None:
    count = CACHED_DATASETS  # with the output: one more than is cached
    inputs = [dataset("postgres://wide", f"t{i}") for i in range(count)]
    raw = raw_event(inputs=inputs, outputs=[dataset("snowflake://wide", "OUT")])
    out = node_id("snowflake://wide", "OUT")
    expected = tuple((node_id("postgres://wide", f"t{i}"), out) for i in range(count))
    assert accepted(raw).fold.edges == expected
    assert accepted(raw).fold.edges == expected
