"""The internal/external mix rule (docs/design.md section 4)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from processor.core.reasons import Reason, SkipReason
from processor.core.rules import EdgePlan, MixMode, MixRule
from processor.errors import ConfigurationError, InvalidMessage

DEFAULT = ["snowflake://*"]

# internal under the default glob
I1 = ("snowflake://acme", "RAW.ORDERS")
I2 = ("snowflake://acme", "MART.ORDERS")
I3 = ("snowflake://other/db", "X")
# external
E1 = ("postgres://db", "public.orders")
E2 = ("s3://bucket", "orders.csv")
E3 = ("kafka://broker", "orders")

Key = tuple[str, str]


def plan(
    mode: str, ins: Sequence[Key], outs: Sequence[Key], globs: Sequence[str] = DEFAULT
) -> EdgePlan:
    return MixRule(mode, globs).plan(ins, outs)


def rejected(mode: str, ins: Sequence[Key], outs: Sequence[Key]) -> str:
    with pytest.raises(InvalidMessage) as info:
        plan(mode, ins, outs)
    return info.value.reason


# ------------------------------------------------------------------ is_internal / globs


@pytest.mark.parametrize(
    ("namespace", "internal"),
    [
        ("snowflake://acme", True),
        ("snowflake://", True),  # * matches the empty string
        ("snowflake://acme/db/schema", True),  # * also matches /
        ("snowflake://a\nb", True),  # and newlines
        ("SNOWFLAKE://acme", False),  # case-sensitive
        ("Snowflake://acme", False),
        ("xsnowflake://acme", False),  # whole namespace, not a search
        (" snowflake://acme", False),
        ("snowflake:/acme", False),
        ("snowflake", False),
        ("postgres://db", False),
    ],
)
def test_default_glob(namespace: str, internal: bool) -> None:
    assert MixRule("mixed", DEFAULT).is_internal(namespace) is internal


def test_glob_without_wildcard_matches_the_whole_namespace_only() -> None:
    rule = MixRule("mixed", ["snowflake://acme"])
    assert rule.is_internal("snowflake://acme")
    assert not rule.is_internal("snowflake://acme/x")
    assert not rule.is_internal("snowflake://acme\n")
    assert not rule.is_internal("snowflake://acm")


def test_several_globs_question_mark_and_brackets() -> None:
    rule = MixRule("mixed", ["snowflake://*", "bigquery://proj-?", "s3://[ab]*", "gs://[!x]"])
    assert rule.is_internal("snowflake://acme")
    assert rule.is_internal("bigquery://proj-1")
    assert rule.is_internal("bigquery://proj-/")  # ? matches any one character, / too
    assert not rule.is_internal("bigquery://proj-")
    assert not rule.is_internal("bigquery://proj-12")
    assert rule.is_internal("s3://a-bucket")
    assert rule.is_internal("s3://b")
    assert not rule.is_internal("s3://c-bucket")
    assert not rule.is_internal("s3://A-bucket")
    assert rule.is_internal("gs://y")
    assert not rule.is_internal("gs://x")


def test_regex_metacharacters_in_globs_are_literal() -> None:
    rule = MixRule("mixed", ["kafka://host.com:9092", "a+b", "(x)|y"])
    assert rule.is_internal("kafka://host.com:9092")
    assert not rule.is_internal("kafka://hostXcom:9092")
    assert rule.is_internal("a+b")
    assert not rule.is_internal("aab")
    assert rule.is_internal("(x)|y")
    assert not rule.is_internal("y")
    assert not rule.is_internal("x")


def test_globs_are_stripped_and_blank_ones_dropped() -> None:
    rule = MixRule("mixed", [" snowflake://* ", "", "  "])
    assert rule.internal_globs == ("snowflake://*",)
    assert rule.is_internal("snowflake://acme")


@pytest.mark.parametrize("globs", [[], [""], [" ", ""]])
def test_no_glob_is_a_configuration_error(globs: list[str]) -> None:
    with pytest.raises(ConfigurationError):
        MixRule("mixed", globs)


@pytest.mark.parametrize("mode", ["MIXED", "off", "", "none"])
def test_unknown_mode_is_a_configuration_error(mode: str) -> None:
    with pytest.raises(ConfigurationError):
        MixRule(mode, DEFAULT)


def test_modes() -> None:
    assert MixRule("mixed", DEFAULT).mode is MixMode.MIXED
    assert MixRule(MixMode.ANY, DEFAULT).mode is MixMode.ANY


def test_describe_is_the_dlq_rule_header() -> None:
    assert MixRule("mixed", DEFAULT).describe() == "mixed;internal=snowflake://*"
    assert MixRule("any", ["a://*", "b"]).describe() == "any;internal=a://*,b"


# ------------------------------------------------------------------ mixed mode


@pytest.mark.parametrize(("src", "dst"), [(E1, I1), (I1, E1)])
def test_mixed_keeps_an_edge_with_exactly_one_internal_end(src: Key, dst: Key) -> None:
    result = plan("mixed", [src], [dst])
    assert result.edges == ((src, dst),)
    assert result.skipped == {}


def test_mixed_skips_and_counts_same_side_edges() -> None:
    # pairs: E1->I2 keep, E1->E3 same, E2->I2 keep, E2->E3 same, I1->I2 same, I1->E3 keep
    result = plan("mixed", [E1, E2, I1], [I2, E3])
    assert set(result.edges) == {(E1, I2), (E2, I2), (I1, E3)}
    assert len(result.edges) == 3
    assert result.skipped == {SkipReason.SAME_SIDE: 3}
    assert SkipReason.SAME_SIDE.value == "same_side"


def test_several_inputs_to_one_output_give_one_edge_each() -> None:
    result = plan("mixed", [E1, E2], [I1])
    assert set(result.edges) == {(E1, I1), (E2, I1)}
    assert len(result.edges) == 2


def test_repeated_datasets_are_counted_once() -> None:
    result = plan("mixed", [E1, E1, E2, E1], [I1, I1])
    assert set(result.edges) == {(E1, I1), (E2, I1)}
    assert len(result.edges) == 2
    # E1->E1? no: repeated same-side pairs are also counted once
    result = plan("mixed", [E1, E1, I1], [E2, E2, I2])
    # distinct pairs: E1->E2 same, E1->I2 keep, I1->E2 keep, I1->I2 same
    assert set(result.edges) == {(E1, I2), (I1, E2)}
    assert result.skipped == {SkipReason.SAME_SIDE: 2}


def test_self_loops_are_never_edges() -> None:
    # I1->I1 self-loop, E1->I1 kept
    result = plan("mixed", [I1, E1], [I1])
    assert result.edges == ((E1, I1),)
    assert result.skipped == {SkipReason.SELF_LOOP: 1}


def test_names_and_namespaces_are_case_sensitive_identities() -> None:
    upper = ("postgres://db", "PUBLIC.ORDERS")
    result = plan("any", [E1], [upper])
    assert result.edges == ((E1, upper),)  # not a self-loop


def test_mixed_every_dataset_internal() -> None:
    assert rejected("mixed", [I1], [I2]) == Reason.MIX_RULE_INTERNAL_ONLY
    assert rejected("mixed", [I1, I3], [I2, I3]) == "mix_rule_internal_only"


def test_mixed_every_dataset_external() -> None:
    assert rejected("mixed", [E1], [E2]) == Reason.MIX_RULE_EXTERNAL_ONLY
    assert rejected("mixed", [E1, E3], [E2, E3]) == "mix_rule_external_only"


@pytest.mark.parametrize(
    ("ins", "outs"),
    [([], [I1]), ([E1], []), ([], []), ([], [I1, I2]), ([E1, E2], [])],
)
@pytest.mark.parametrize("mode", ["mixed", "any"])
def test_empty_side_is_no_lineage_whatever_the_mix(
    mode: str, ins: list[Key], outs: list[Key]
) -> None:
    # no_lineage wins over the all-internal / all-external reasons
    assert rejected(mode, ins, outs) == Reason.NO_LINEAGE.value == "no_lineage"


def test_mixed_only_self_loops_reports_the_side() -> None:
    # under mixed, a lone self-loop on one side is "every dataset internal/external"
    # (docs/design.md names no_lineage for self-loops only under `any`)
    assert rejected("mixed", [I1], [I1]) == Reason.MIX_RULE_INTERNAL_ONLY
    assert rejected("mixed", [E1], [E1]) == Reason.MIX_RULE_EXTERNAL_ONLY


def test_rejection_messages_name_the_rule() -> None:
    with pytest.raises(InvalidMessage) as info:
        plan("mixed", [I1], [I2])
    assert "mixed;internal=snowflake://*" in info.value.error
    with pytest.raises(InvalidMessage) as info:
        plan("mixed", [E1], [])
    assert "outputs" in info.value.error


# ------------------------------------------------------------------ any mode


def test_any_keeps_every_candidate_edge() -> None:
    result = plan("any", [E1, E2, I1], [I2, E3])
    assert set(result.edges) == {(E1, I2), (E1, E3), (E2, I2), (E2, E3), (I1, I2), (I1, E3)}
    assert len(result.edges) == 6
    assert result.skipped == {}


@pytest.mark.parametrize(("ins", "outs"), [([I1], [I2]), ([E1], [E2]), ([E1], [I1])])
def test_any_does_not_reject_one_sided_lineage(ins: list[Key], outs: list[Key]) -> None:
    assert plan("any", ins, outs).edges == ((ins[0], outs[0]),)


def test_any_skips_self_loops_and_rejects_when_only_they_remain() -> None:
    result = plan("any", [I1, E1], [I1])
    assert result.edges == ((E1, I1),)
    assert result.skipped == {SkipReason.SELF_LOOP: 1}
    assert rejected("any", [I1], [I1]) == Reason.NO_LINEAGE
    assert rejected("any", [E1, E1], [E1]) == Reason.NO_LINEAGE
