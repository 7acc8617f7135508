"""A rebuild writes no dead letters and marks no rejected event seen (docs/operations.md,
*Rebuilding the graph from the log*): the live workers wrote the dead letters,
and a live worker that meets a rule-rejected event after the switch must still
dead-letter it, even when the rebuild read that event first."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from collections import Counter

import pytest
import redis

from processor.adapters.log_reader import end_offsets
from tests.events import OMIT, ol_event, raw_event
from tests.integration.conftest import Stack
from tests.integration.dedup_marks import dedup_marks
from tests.integration.kafka_utils import ReadRecord, committed_offsets, produce, read_topic

pytestmark = pytest.mark.integration

SF, PG, S3 = "snowflake://acme", "postgres://db", "s3://lake"

ACCEPTED = [
    ol_event(job=("j", "a1"), inputs=[(PG, "src")], outputs=[(SF, "T1")]),
    ol_event(job=("j", "a2"), inputs=[(SF, "T1")], outputs=[(S3, "out")]),
]
IGNORED = ol_event(event_type="START", job=("j", "a1"), inputs=[(PG, "src")], outputs=[(SF, "T1")])
# Rejected after the content hash (docs/design.md section 3, steps 6-7): the live
# worker marks these seen; the rebuild must not.
RULE_REJECTED = {
    "mix_rule_internal_only": ol_event(job=("j", "r1"), inputs=[(SF, "T1")], outputs=[(SF, "T2")]),
    "mix_rule_external_only": ol_event(job=("j", "r2"), inputs=[(PG, "src")], outputs=[(S3, "x")]),
    "no_lineage": ol_event(job=("j", "r3"), inputs=[], outputs=[(SF, "T3")]),
    "name_too_long": ol_event(job=("j", "r4"), inputs=[(PG, "N" * 1001)], outputs=[(SF, "T4")]),
}
# Rejected before it: never marked, by anyone.
INVALID = {"invalid_json": b"{not json", "invalid_event": raw_event(eventTime=OMIT)}

# Published while no worker runs, so the rebuild reads them before any live worker.
LATE_ACCEPTED = ol_event(job=("j", "a3"), inputs=[(PG, "late")], outputs=[(SF, "LATE")])
LATE_REJECTED = ol_event(job=("j", "r5"), inputs=[(SF, "LATE")], outputs=[(SF, "LATER")])


def content_hash(value: bytes) -> str:
    """docs/design.md section 3: sha256 of the canonical JSON (keys sorted, no
    whitespace, UTF-8); these events hold no floats, so the standard library
    spells them as the processor does."""
    obj = json.loads(value)
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def marks(stack: Stack, generation: str, values: list[bytes]) -> list[str | None]:
    """The outcome letter of each value's dedup mark in ``generation``, None
    where there is none."""
    client = redis.Redis.from_url(stack.redis_url)
    try:
        found = dedup_marks(
            client, stack.prefix, [content_hash(v) for v in values], generation=generation
        )
    finally:
        client.close()
    return [m or None for m in found]


def dead_letters(stack: Stack) -> tuple[dict[int, int], list[ReadRecord]]:
    """The DLQ's exact end offsets (fetch high-watermarks: Tansu's ListOffsets
    reports them low) and every record up to them."""
    ends = asyncio.run(end_offsets(stack.bootstrap, stack.dlq_topic))
    return ends, read_topic(stack.bootstrap, stack.dlq_topic)


def rebuild(stack: Stack) -> str:
    """Run ``lineage-processor rebuild`` to the end; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "processor", "rebuild"],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_rebuild_writes_no_dead_letter_and_leaves_rejected_events_unmarked(
    stack: Stack,
) -> None:
    rejected = list(RULE_REJECTED.values())
    first: list[bytes] = [
        *ACCEPTED,
        IGNORED,
        *rejected,
        *INVALID.values(),
        ACCEPTED[0],  # duplicates: dropped, no second dead letter
        RULE_REJECTED["no_lineage"],
    ]
    worker = stack.start_worker()
    produce(stack.bootstrap, stack.input_topic, [(b"k", v) for v in first])
    worker.wait_for(
        lambda: (
            committed_offsets(stack.bootstrap, stack.group, stack.input_topic) == {0: len(first)}
        ),
        timeout=60,
    )
    ends, letters = dead_letters(stack)
    want = Counter([*RULE_REJECTED, *INVALID])
    assert Counter(r.headers["lineage.reason"] for r in letters) == want
    assert ends == {0: len(letters)}
    # The live worker marks rule-rejected events: what the rebuild must not do.
    assert marks(stack, "1", [*ACCEPTED, IGNORED, *rejected]) == ["a", "a", "i"] + ["r"] * 4
    assert worker.terminate() == 0

    late = [LATE_ACCEPTED, LATE_REJECTED]
    produce(stack.bootstrap, stack.input_topic, [(b"k", v) for v in late])
    assert "switched to generation 2" in rebuild(stack)

    # No dead letter from the rebuild, not even for LATE_REJECTED, which no
    # live worker has met yet.
    assert dead_letters(stack) == (ends, letters)
    assert marks(stack, "2", [*ACCEPTED, IGNORED, LATE_ACCEPTED]) == ["a", "a", "i", "a"]
    assert marks(stack, "2", [*rejected, LATE_REJECTED]) == [None] * 5

    # The live worker meets the late events after the switch: the accepted one
    # is the rebuild's already, the rejected one is its to dead-letter.
    worker = stack.start_worker()
    worker.wait_for(lambda: worker.metric("lineage_generation") == 2, timeout=10)
    worker.wait_for(
        lambda: (
            committed_offsets(stack.bootstrap, stack.group, stack.input_topic)
            == {0: len(first) + len(late)}
        ),
        timeout=60,
    )
    assert worker.metric("lineage_events_duplicate_total") == 1
    # Committed offsets come after the dead letters are acknowledged.
    new_ends, now = dead_letters(stack)
    assert now[: len(letters)] == letters
    (letter,) = now[len(letters) :]
    assert (letter.value, letter.headers["lineage.reason"]) == (
        LATE_REJECTED,
        "mix_rule_internal_only",
    )
    assert new_ends == {0: len(letters) + 1}
    assert marks(stack, "2", [LATE_REJECTED]) == ["r"]
