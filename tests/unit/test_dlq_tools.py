"""Dead letters read back: header view, selection, excerpts, summaries, redrive targets."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from processor.core.dlq_headers import dlq_headers
from processor.core.dlq_review import (
    DeadLetter,
    DlqStats,
    RedriveReport,
    Selection,
    awaits_its_mark,
    epoch_micros,
    escape_text,
    excerpt,
    format_ms,
    newest,
    parse_dead_letter,
    parse_reason,
    rejection_hash,
    render_letter,
    target_topic,
)
from processor.core.pipeline import Classified, Limits, Rejected, classify
from processor.core.reasons import Reason
from processor.core.rules import MixRule
from tests.events import ol_event

T0 = 1772359200000  # 2026-03-01T10:00:00.000Z
RULE = MixRule("mixed", ["snowflake://*"])
EXTERNAL_ONLY = ol_event(
    job=("dbt", "crm"),
    inputs=[("postgres://crm", "public.customers")],
    outputs=[("bigquery://proj", "crm.customers")],
)


def _letter(
    reason: str = "mix_rule_external_only",
    *,
    offset: int = 7,
    timestamp_ms: int = T0 + 5,
    partition: int = 0,
    value: bytes | None = b'{"eventType":"COMPLETE"}',
    **headers: Any,
) -> DeadLetter:
    fields: dict[str, Any] = {
        "reason": reason,
        "error": "every dataset is external",
        "topic": "openlineage.events",
        "partition": 2,
        "offset": 41,
        "timestamp_ms": T0,
        "version": "0.1.0",
        "rule": "mixed;internal=snowflake://*",
        **headers,
    }
    return parse_dead_letter(
        topic="openlineage.events.dlq",
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        key=b"run:dbt/crm",
        value=value,
        headers=dlq_headers(**fields),
    )


# -- the header view ---------------------------------------------------------


def test_headers_become_a_typed_view() -> None:
    letter = _letter()
    assert letter.reason == "mix_rule_external_only"
    assert letter.error == "every dataset is external"
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        "openlineage.events",
        2,
        41,
    )
    assert letter.source_timestamp_ms == T0
    assert letter.rule == "mixed;internal=snowflake://*"
    assert letter.processor_version == "0.1.0"
    assert letter.value_dropped is None
    assert letter.coordinates == "openlineage.events.dlq/0/7"


def test_missing_or_malformed_headers_are_none_not_errors() -> None:
    letter = parse_dead_letter(
        topic="dlq",
        partition=1,
        offset=2,
        timestamp_ms=3,
        key=None,
        value=None,
        headers=[
            ("lineage.source.partition", b"two"),
            ("lineage.source.offset", b"-1"),
            ("lineage.source.timestamp", b""),
            ("lineage.reason", b"\xffbad"),
        ],
    )
    assert letter.reason == "\ufffdbad"
    assert letter.error == ""
    assert letter.source_topic is None
    assert letter.source_partition is None
    assert letter.source_offset is None
    assert letter.source_timestamp_ms is None
    assert letter.rule is None


def test_the_last_of_a_repeated_header_counts_and_value_dropped_is_read() -> None:
    letter = parse_dead_letter(
        topic="dlq",
        partition=0,
        offset=0,
        timestamp_ms=0,
        key=None,
        value=None,
        headers=[
            ("lineage.reason", b"invalid_json"),
            ("lineage.reason", b"too_large"),
            ("lineage.value.dropped", b"2000000"),
        ],
    )
    assert letter.reason == "too_large"
    assert letter.value_dropped == 2_000_000


# -- selection ---------------------------------------------------------------


def test_parse_reason_accepts_codes_and_names_the_valid_ones() -> None:
    assert parse_reason("no_lineage") is Reason.NO_LINEAGE
    with pytest.raises(ValueError, match=r"unknown reason 'mix_rule' \(one of: too_large, "):
        parse_reason("mix_rule")
    with pytest.raises(ValueError, match="unknown reason"):
        parse_reason("NO_LINEAGE")  # codes are exact


def test_epoch_micros_normalises_first() -> None:
    assert epoch_micros("2026-03-01T10:00:00Z") == T0 * 1000
    assert epoch_micros("2026-03-01T11:00:00.0000019+01:00") == T0 * 1000 + 1
    assert epoch_micros("2026-03-01 10:00:00") == T0 * 1000
    for bad in ("yesterday", "2026-03-01", "2026-02-30T10:00:00Z", "1772359200"):
        with pytest.raises(ValueError, match="date-time"):
            epoch_micros(bad)


def test_selection_by_reason_and_since_inclusive() -> None:
    ext = _letter(timestamp_ms=T0 + 123)
    json_ = _letter("invalid_json", timestamp_ms=T0 + 123)
    assert Selection().matches(ext)
    assert Selection(Reason.MIX_RULE_EXTERNAL_ONLY).matches(ext)
    assert not Selection(Reason.MIX_RULE_EXTERNAL_ONLY).matches(json_)
    at = epoch_micros("2026-03-01T10:00:00.123Z")
    assert Selection(since_us=at).matches(ext)  # at the instant: selected
    assert not Selection(since_us=at + 1).matches(ext)  # a microsecond later: not
    assert Selection(Reason.INVALID_JSON, at - 1000).matches(json_)
    assert not Selection(Reason.INVALID_JSON, at + 1).matches(json_)


def test_newest_keeps_the_latest_and_puts_them_last() -> None:
    a = _letter(offset=1, timestamp_ms=T0 + 30)
    b = _letter(offset=2, timestamp_ms=T0 + 10)
    c = _letter(offset=0, partition=1, timestamp_ms=T0 + 20)
    d = _letter(offset=3, timestamp_ms=T0 + 20)
    kept = newest([], [a, b], 3)
    kept = newest(kept, [c, d], 3)
    # c and d were dead-lettered at the same millisecond: partition breaks the tie
    assert [x.coordinates for x in kept] == [
        "openlineage.events.dlq/0/3",
        "openlineage.events.dlq/1/0",
        "openlineage.events.dlq/0/1",
    ]
    assert newest([a], [b], 0) == []


# -- excerpts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", ""),
        (None, "(null)"),
        (b'{"a": "x"}', '{"a": "x"}'),
        # JSON escapes are backslashes already: left as they are
        (b'{"a": "x\\ny"}', '{"a": "x\\ny"}'),
        # real control characters become escapes
        (b"a\nb\tc\rd", "a\\nb\\tc\\rd"),
        (b"\x00\x1b[31mred\x7f", "\\x00\\x1b[31mred\\x7f"),
        ("c1 \u0085 ls \u2028 ps \u2029".encode(), "c1 \\x85 ls \\u2028 ps \\u2029"),
        # bidirectional overrides would reorder what the terminal shows
        ("abc\u202edcba\u2066x".encode(), "abc\\u202edcba\\u2066x"),
        # bytes that are not UTF-8 become U+FFFD, one per bad sequence
        (b"\xff\xfe not utf-8", "\ufffd\ufffd not utf-8"),
        # printable non-ASCII is kept
        ("café 😀 Köln".encode(), "café 😀 Köln"),
    ],
)
def test_excerpt_escapes(raw: bytes | None, expected: str) -> None:
    assert excerpt(raw) == expected


def test_excerpt_truncates_to_200_characters_with_an_ellipsis() -> None:
    assert excerpt(b"x" * 200) == "x" * 200  # at the limit: whole
    assert excerpt(b"x" * 201) == "x" * 199 + "…"
    assert excerpt(b"a" * (1024 * 1024)) == "a" * 199 + "…"
    assert excerpt("é".encode() * 300) == "é" * 199 + "…"
    assert excerpt("😀".encode() * 250) == "😀" * 199 + "…"
    # an escape is never cut in half: "\n" would not fit in 199, so it goes
    assert excerpt(b"x" * 198 + b"\ny") == "x" * 198 + "…"
    assert excerpt(b"x" * 197 + b"\ny") == "x" * 197 + "\\n" + "y"  # 200 exactly
    assert excerpt(b"x" * 197 + b"\nyz") == "x" * 197 + "\\n" + "…"


def test_escape_text_with_a_small_limit() -> None:
    assert escape_text("abcdef", 4) == "abc…"
    assert escape_text("ab\x01", 6) == "ab\\x01"  # the escape is 4 characters
    assert escape_text("ab\x01", 5) == "ab…"
    assert escape_text("ab\x01c", 7) == "ab\\x01c"
    assert escape_text("ab\x01c", 6) == "ab…"


def test_format_ms() -> None:
    assert format_ms(T0 + 123) == "2026-03-01T10:00:00.123Z"
    assert format_ms(0) == "1970-01-01T00:00:00.000Z"
    assert format_ms(-1) == "-"
    assert format_ms(None) == "-"


# -- what the commands print -------------------------------------------------


def test_render_letter_block() -> None:
    letter = _letter(value=b'{"eventType":"COMPLETE",\n"x":1}', timestamp_ms=T0 + 2500)
    assert render_letter(letter).splitlines() == [
        "openlineage.events.dlq/0/7  dead-lettered at 2026-03-01T10:00:02.500Z",
        "  reason  mix_rule_external_only",
        "  error   every dataset is external",
        "  source  openlineage.events/2/41  at 2026-03-01T10:00:00.000Z",
        "  rule    mixed;internal=snowflake://*",
        "  key     run:dbt/crm",
        '  value   {"eventType":"COMPLETE",\\n"x":1}',
    ]


def test_render_letter_without_source_headers_or_value() -> None:
    letter = parse_dead_letter(
        topic="dlq",
        partition=0,
        offset=9,
        timestamp_ms=T0,
        key=None,
        value=None,
        headers=[("lineage.reason", b"too_large"), ("lineage.value.dropped", b"2000000")],
    )
    assert render_letter(letter).splitlines() == [
        "dlq/0/9  dead-lettered at 2026-03-01T10:00:00.000Z",
        "  reason  too_large",
        "  error   -",
        "  source  -",
        "  rule    -",
        "  key     (null)",
        "  value   (dropped by the broker: 2000000 bytes)",
    ]


def test_stats_sorted_by_count_then_reason() -> None:
    stats = DlqStats()
    for letter in [
        _letter("invalid_json", timestamp_ms=T0 + 9000),
        _letter("no_lineage", timestamp_ms=T0 + 1000),
        _letter("invalid_json", timestamp_ms=T0 + 3000),
        _letter("mix_rule_external_only", timestamp_ms=T0 + 2000, topic="other"),
    ]:
        stats.add(letter)
    assert stats.total == 4
    assert stats.render("dlq").splitlines() == [
        "dlq: 4 dead letters",
        "by reason:",
        "  invalid_json                   2",
        "  mix_rule_external_only         1",
        "  no_lineage                     1",
        "by source topic:",
        "  openlineage.events         3",
        "  other                      1",
        "oldest  2026-03-01T10:00:01.000Z",
        "newest  2026-03-01T10:00:09.000Z",
    ]
    assert DlqStats().render("dlq") == "dlq: no dead letters"


def test_redrive_report() -> None:
    report = RedriveReport(
        redriven=Counter({"mix_rule_external_only": 3, "invalid_json": 1}),
        topics=Counter({"openlineage.events": 4}),
        already=Counter({"mix_rule_external_only": 2}),
        no_value=1,
        marks_cleared=2,
        unsettled=1,
    )
    assert report.render().splitlines() == [
        "redriven: 4",
        "skipped, already redriven: 2",
        "skipped, value dropped by the broker: 1",
        "by reason (redriven / already redriven):",
        "  mix_rule_external_only         3 / 2",
        "  invalid_json                   1 / 0",
        "published to openlineage.events: 4",
        "rejection marks cleared (dedup bypass): 2",
        "published but not recorded, the worker has not marked them yet: 1 "
        "(the next redrive publishes them again)",
    ]
    assert RedriveReport().render().splitlines() == [
        "redriven: 0",
        "skipped, already redriven: 0",
    ]


# -- redrive -----------------------------------------------------------------


def test_target_topic() -> None:
    inputs = ["events.a", "events.b"]
    assert target_topic(_letter(topic="events.b"), inputs, "control") == "events.b"
    # a topic that is no longer an input, or no header at all: the first input
    assert target_topic(_letter(topic="retired"), inputs, "control") == "events.a"
    bare = parse_dead_letter(
        topic="dlq", partition=0, offset=0, timestamp_ms=0, key=None, value=None, headers=[]
    )
    assert target_topic(bare, inputs, "control") == "events.a"
    # malformed deletes go back to the control topic
    assert target_topic(_letter("invalid_control", topic="control"), inputs, "control") == (
        "control"
    )
    assert target_topic(_letter("invalid_control", topic="old"), inputs, "control") == "control"


def test_rejection_hash_is_the_pipelines_content_hash() -> None:
    c = classify(EXTERNAL_ONLY, RULE, Limits())
    assert isinstance(c, Classified)
    assert isinstance(c.outcome, Rejected)
    assert c.outcome.reason == "mix_rule_external_only"
    assert rejection_hash(EXTERNAL_ONLY, 64) == c.content_hash
    # a different spelling of the same event: the same hash, as in the pipeline
    respaced = EXTERNAL_ONLY.replace(b",", b", ")
    assert rejection_hash(respaced, 64) == c.content_hash
    for never_hashed in (None, b"{", b"[1]", b"\xff", b"[" * 70 + b"]" * 70):
        assert rejection_hash(never_hashed, 64) is None


def test_a_rule_rejected_dead_letter_without_its_mark_awaits_it() -> None:
    ttl = 7 * 24 * 3600
    young = T0 + 1000
    letter = _letter(timestamp_ms=T0)
    assert awaits_its_mark(letter, "", young, ttl)
    # a mark of any kind, or none looked up: settled
    for mark in ("r", "a", "i", None):
        assert not awaits_its_mark(letter, mark, young, ttl)
    # older than the dedup TTL: its mark has expired, it is not coming
    assert not awaits_its_mark(letter, "", T0 + ttl * 1000, ttl)
    assert awaits_its_mark(letter, "", T0 + ttl * 1000 - 1, ttl)
    # reasons decided before the hash never get a mark
    for reason in ("too_large", "invalid_json", "invalid_event", "invalid_control"):
        assert not awaits_its_mark(_letter(reason, timestamp_ms=T0), "", young, ttl)
    for reason in ("name_too_long", "mix_rule_internal_only", "no_lineage"):
        assert awaits_its_mark(_letter(reason, timestamp_ms=T0), "", young, ttl)
