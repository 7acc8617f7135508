"""Reviewing and redriving dead letters read back from the DLQ topic: a typed
view of a record, the selection of ``dlq show`` and ``dlq redrive``, readable
excerpts, and the summaries those commands print (docs/design.md section 7). The
headers a dead letter is written with are in ``core.dlq_headers``.

Pure: the Kafka and Redis work is in ``processor.cli.dlq`` and the adapters.
Header values are read leniently (a record someone produced by hand, or one
from a newer processor with a reason this one does not know, is still shown),
and everything taken from a record is escaped before it reaches a terminal.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from processor.core.decode import decode_object
from processor.core.identity import content_hash
from processor.core.reasons import Reason
from processor.core.timefmt import normalize_time
from processor.errors import InvalidMessage

EXCERPT_CHARS = 200
ERROR_CHARS = 300
REDRIVEN_FROM_HEADER = "lineage.redriven.from"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Bidirectional overrides and isolates can make a terminal show text in an
# order other than the bytes' ("Trojan Source"); they are escaped like controls.
_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One DLQ record: its own coordinates and timestamp, the original key and
    value, and what its ``lineage.*`` headers say (None where one is missing
    or not a number)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    reason: str
    error: str
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    source_timestamp_ms: int | None
    rule: str | None
    processor_version: str | None
    value_dropped: int | None

    @property
    def coordinates(self) -> str:
        """``topic/partition/offset`` of the DLQ record: what a redrive records."""
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def order(self) -> tuple[int, str, int, int]:
        """Oldest first: by the time it was dead-lettered, then by position."""
        return (self.timestamp_ms, self.topic, self.partition, self.offset)


def parse_dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
) -> DeadLetter:
    """The typed view of a DLQ record; for a repeated header the last one counts."""
    found = {name: raw.decode("utf-8", "replace") for name, raw in headers}

    def number(name: str) -> int | None:
        text = found.get(name, "")
        return int(text) if text.isascii() and text.isdigit() else None

    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        key=key,
        value=value,
        reason=found.get("lineage.reason", ""),
        error=found.get("lineage.error", ""),
        source_topic=found.get("lineage.source.topic"),
        source_partition=number("lineage.source.partition"),
        source_offset=number("lineage.source.offset"),
        source_timestamp_ms=number("lineage.source.timestamp"),
        rule=found.get("lineage.rule"),
        processor_version=found.get("lineage.processor.version"),
        value_dropped=number("lineage.value.dropped"),
    )


def parse_reason(text: str) -> Reason:
    """A ``--reason`` argument as a reason code; ``ValueError`` naming the valid ones."""
    try:
        return Reason(text)
    except ValueError:
        valid = ", ".join(r.value for r in Reason)
        raise ValueError(f"unknown reason {text!r} (one of: {valid})") from None


def epoch_micros(value: str) -> int:
    """An RFC 3339 time as microseconds since the epoch; ``ValueError`` if it is not one."""
    normalized = normalize_time(value)
    moment = datetime.fromisoformat(normalized.replace("Z", "+00:00"))
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a command works on: one reason (all when None), and
    those dead-lettered at or after ``since_us`` (microseconds since the epoch)."""

    reason: Reason | None = None
    since_us: int | None = None

    def matches(self, letter: DeadLetter) -> bool:
        """Whether ``letter`` is selected; the time is the DLQ record's own timestamp."""
        if self.reason is not None and letter.reason != self.reason.value:
            return False
        return self.since_us is None or letter.timestamp_ms * 1000 >= self.since_us


def escape_text(text: str, limit: int) -> str:
    """``text`` safe for a terminal line and at most ``limit`` characters long.

    Control characters (C0, DEL, C1), line and paragraph separators and
    bidirectional controls become ``\\n``, ``\\t``, ``\\r``, ``\\xNN`` or
    ``\\uNNNN``. Backslashes are left alone: JSON is full of them, and an
    excerpt is for reading, not for decoding back. A longer result is cut
    between escapes and ends with "…".
    """
    pieces: list[str] = []
    length = 0
    for ch in text:
        piece = _escape_char(ch)
        pieces.append(piece)
        length += len(piece)
        if length > limit:
            break
    if length <= limit:
        return "".join(pieces)
    kept: list[str] = []
    used = 0
    for piece in pieces:
        if used + len(piece) > limit - 1:
            break
        kept.append(piece)
        used += len(piece)
    return "".join(kept) + "…"


def _escape_char(ch: str) -> str:
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI:
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return ch


def excerpt(data: bytes | None, limit: int = EXCERPT_CHARS) -> str:
    """A readable start of a key or value: UTF-8 with U+FFFD for bad bytes,
    escaped and cut by ``escape_text``; ``(null)`` for no value at all."""
    if data is None:
        return "(null)"
    # A character is at most 4 bytes, so this prefix holds more than ``limit``
    # characters whenever the whole does: a 1 MiB value is not decoded whole.
    head = data[: limit * 4 + 4]
    return escape_text(head.decode("utf-8", "replace"), limit)


def format_ms(timestamp_ms: int | None) -> str:
    """A Kafka timestamp as RFC 3339 UTC with milliseconds; ``-`` when there is none."""
    if timestamp_ms is None or timestamp_ms < 0:
        return "-"
    try:
        moment = _EPOCH + timedelta(milliseconds=timestamp_ms)
    except OverflowError:
        return str(timestamp_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def render_letter(letter: DeadLetter) -> str:
    """The ``dlq show`` block of one dead letter."""

    def text(value: str | None) -> str:
        return "-" if value is None else escape_text(value, ERROR_CHARS)

    source = "-"
    if letter.source_topic is not None:
        where = (
            f"{text(letter.source_topic)}/{_or_dash(letter.source_partition)}/"
            f"{_or_dash(letter.source_offset)}"
        )
        source = f"{where}  at {format_ms(letter.source_timestamp_ms)}"
    if letter.value_dropped is not None:
        value = f"(dropped by the broker: {letter.value_dropped} bytes)"
    else:
        value = excerpt(letter.value)
    lines = [
        f"{text(letter.coordinates)}  dead-lettered at {format_ms(letter.timestamp_ms)}",
        f"  reason  {text(letter.reason) or '-'}",
        f"  error   {text(letter.error) or '-'}",
        f"  source  {source}",
        f"  rule    {text(letter.rule)}",
        f"  key     {excerpt(letter.key)}",
        f"  value   {value}",
    ]
    return "\n".join(lines)


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def newest(kept: list[DeadLetter], more: Iterable[DeadLetter], limit: int) -> list[DeadLetter]:
    """The ``limit`` newest of ``kept`` and ``more``, oldest first (so newest last)."""
    merged = sorted([*kept, *more], key=lambda d: d.order)
    return merged[-limit:] if limit > 0 else []


@dataclass(slots=True)
class DlqStats:
    """Counts over the dead letters of a topic, for ``dlq stats``."""

    reasons: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    values_dropped: int = 0
    oldest_ms: int | None = None
    newest_ms: int | None = None

    @property
    def total(self) -> int:
        """Dead letters counted."""
        return sum(self.reasons.values())

    def add(self, letter: DeadLetter) -> None:
        """Count one dead letter."""
        self.reasons[letter.reason or "(none)"] += 1
        self.sources[letter.source_topic or "(unknown)"] += 1
        if letter.value_dropped is not None:
            self.values_dropped += 1
        if letter.timestamp_ms >= 0:
            ts = letter.timestamp_ms
            self.oldest_ms = ts if self.oldest_ms is None else min(self.oldest_ms, ts)
            self.newest_ms = ts if self.newest_ms is None else max(self.newest_ms, ts)

    def render(self, topic: str) -> str:
        """The ``dlq stats`` text: by reason (most first), by source topic, time span."""
        if not self.total:
            return f"{topic}: no dead letters"
        lines = [f"{topic}: {self.total} dead letters", "by reason:"]
        lines += _table(self.reasons)
        lines.append("by source topic:")
        lines += _table(self.sources)
        if self.values_dropped:
            lines.append(f"values dropped by the broker: {self.values_dropped}")
        lines.append(f"oldest  {format_ms(self.oldest_ms)}")
        lines.append(f"newest  {format_ms(self.newest_ms)}")
        return "\n".join(lines)


def _table(counts: Counter[str]) -> list[str]:
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    width = max(len(escape_text(name, ERROR_CHARS)) for name, _ in rows)
    return [f"  {escape_text(name, ERROR_CHARS):<{width}}  {n:>8}" for name, n in rows]


def target_topic(letter: DeadLetter, input_topics: Sequence[str], control_topic: str) -> str:
    """Where a redrive publishes a dead letter: back to the topic it came from
    when that is an input topic or the control topic (``invalid_control``),
    else to the first input topic."""
    if letter.reason == Reason.INVALID_CONTROL.value or letter.source_topic == control_topic:
        return control_topic
    source = letter.source_topic
    return source if source is not None and source in input_topics else input_topics[0]


def rejection_hash(value: bytes | None, max_depth: int) -> str | None:
    """The content hash the pipeline gave ``value`` (``core.pipeline.classify``:
    decode, then hash the object), or None when it never got that far.

    A rule-rejected event is marked seen under this hash; a redriven copy would
    be dropped as a duplicate unless that mark is cleared first.
    """
    try:
        obj: dict[str, Any] = decode_object(value, max_depth)
    except InvalidMessage:
        return None
    return content_hash(obj)


# The reasons decided after the content hash (docs/design.md section 3, steps 6-7):
# the worker marks these events seen with a rejection mark.
RULE_REASONS = frozenset(
    r.value
    for r in (
        Reason.NAME_TOO_LONG,
        Reason.MIX_RULE_INTERNAL_ONLY,
        Reason.MIX_RULE_EXTERNAL_ONLY,
        Reason.NO_LINEAGE,
    )
)


def awaits_its_mark(letter: DeadLetter, mark: str | None, now_ms: int, ttl_seconds: int) -> bool:
    """Whether a rule-rejected dead letter's dedup mark should exist but does not.

    ``mark`` is what the redrive found under its content hash: ``""`` for no
    mark, None when it looked nothing up. The worker publishes a dead letter
    before it writes the mark (and retries the mark while Redis is down), so a
    dead letter younger than the dedup TTL without its mark means the worker
    has not finished with it: the mark may still come and then drop the
    redriven copy as a duplicate. Such a dead letter is published but not
    recorded as redriven, so the next redrive publishes it again.
    """
    if mark is None or mark or letter.reason not in RULE_REASONS:
        return False
    return now_ms - letter.timestamp_ms < ttl_seconds * 1000


@dataclass(slots=True)
class RedriveReport:
    """What a redrive did, for its summary."""

    redriven: Counter[str] = field(default_factory=Counter)  # by reason
    topics: Counter[str] = field(default_factory=Counter)  # by target topic
    already: Counter[str] = field(default_factory=Counter)  # by reason
    no_value: int = 0
    marks_cleared: int = 0
    unsettled: int = 0  # published, not recorded: see ``awaits_its_mark``

    def render(self) -> str:
        """The ``dlq redrive`` summary."""
        total, skipped = sum(self.redriven.values()), sum(self.already.values())
        lines = [f"redriven: {total}", f"skipped, already redriven: {skipped}"]
        if self.no_value:
            lines.append(f"skipped, value dropped by the broker: {self.no_value}")
        reasons = self.redriven + self.already
        if reasons:
            lines.append("by reason (redriven / already redriven):")
            names = {r: escape_text(r or "(none)", ERROR_CHARS) for r in reasons}
            width = max(len(n) for n in names.values())
            for reason in sorted(reasons, key=lambda r: (-reasons[r], r)):
                lines.append(
                    f"  {names[reason]:<{width}}  {self.redriven[reason]:>8} / "
                    f"{self.already[reason]}"
                )
        for topic, n in sorted(self.topics.items()):
            lines.append(f"published to {topic}: {n}")
        if self.marks_cleared:
            lines.append(f"rejection marks cleared (dedup bypass): {self.marks_cleared}")
        if self.unsettled:
            lines.append(
                f"published but not recorded, the worker has not marked them yet: "
                f"{self.unsettled} (the next redrive publishes them again)"
            )
        return "\n".join(lines)
