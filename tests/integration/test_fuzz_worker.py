"""Fuzzing the real worker: thousands of generated messages (arbitrary bytes,
mutations of real events, valid events, control messages) through one worker
process, on the real broker and Redis.

What must hold (docs/operations.md "Guarantees", docs/design.md section 3): the worker never
exits and keeps answering ``/healthz``; it does not stall (everything sent is
consumed within a bound); and the books balance exactly: every message has
exactly one outcome, the DLQ holds every rejection with its reason, and the
served graph is the pure fold of what was sent (``check_accounting``).

Hypothesis draws the messages, derandomized (same examples on every run) and
without shrinking: one example costs seconds of a real worker, and the
falsifying example is printed as drawn. The worker is shared by the examples:
each example's messages (and redeliveries of some, from it or from earlier
examples) are appended to the same topics and the accounting is checked over
everything sent so far, so a later example also proves that the earlier ones
left nothing half done. A failure is reproduced by running the whole test
again: the examples before it are part of its state.
"""

from __future__ import annotations

import copy
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, note, reject, settings
from hypothesis import strategies as st

from processor.samples import realistic_mix
from tests.events import dumps, ol_event
from tests.integration.accounting import Sent, check_accounting, expect
from tests.integration.conftest import Stack
from tests.integration.harness import WorkerProcess
from tests.integration.kafka_utils import produce
from tests.integration.streams import delete_value

# Hypothesis caps the choices of one example, so many examples of ~200
# messages rather than a few big ones: ~4,000 messages in all.
EXAMPLES = 26
MESSAGES_PER_EXAMPLE = (120, 200)
CONTROL_SHARE = 0.05
STALL_BOUND = 60.0  # seconds for the worker to get through one example's messages

# Real events, made by the openlineage-python client (deterministic for a seed).
BASE: list[bytes] = [v for _, v in realistic_mix(300, seed=17)] + [
    v for _, v in realistic_mix(100, seed=18, internal_namespace="snowflake://acme")
]
POOL = [
    ("postgres://db", "public.orders"),
    ("s3://bucket", "a/b/"),
    ("snowflake://acme", "RAW.ORDERS"),
    ("snowflake://acme", "RAW.ITEMS"),
    ("kafka://k:9092", "clicks"),
    ("snowflake://*", "*"),
]
HOSTILE_TEXT = [
    ":",
    "{x}:g1}:",
    "*",
    "?[a-z]",
    "%s",
    "..",
    "]]",
    "--",
    "\n",
    "\r",
    "\t",
    "\u200f",
    "\u202e",
    "\u200d",
    "\U0001f600",
    "e\u0301",
    "\x00",
    "\\0",
    "\ud800",
    "",
    "snowflake://x",
]
JSON_VALUES: list[Any] = [None, 0, -1, 1.5, 1e308, "", "x" * 50, [], {}, True, [None], {"a": []}]
EVENT_TYPES = ["COMPLETE", "START", "FAIL", "complete", "", "DROP TABLE", None, 7]


# --------------------------------------------------------------- strategies

hostile_text = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=12))


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) into a JSON value, root excluded."""
    out: list[tuple[Any, ...]] = []
    items: list[tuple[Any, Any]] = []
    if isinstance(obj, dict):
        items = list(obj.items())
    elif isinstance(obj, list):
        items = list(enumerate(obj))
    for key, value in items:
        out.append((*prefix, key))
        out.extend(_paths(value, (*prefix, key)))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


@dataclass
class Mutator:
    """Applies drawn mutations to a parsed event; ``rng`` (seeded by hypothesis)
    picks the places, so the same draw is the same message."""

    rng: random.Random
    texts: list[str]

    def text(self) -> str:
        return self.texts[self.rng.randrange(len(self.texts))] if self.texts else ":"

    def pick_path(self, doc: Any) -> tuple[Any, ...] | None:
        paths = _paths(doc)
        return paths[self.rng.randrange(len(paths))] if paths else None

    def drop(self, doc: Any) -> Any:
        path = self.pick_path(doc)
        if path is not None:
            parent = _parent(doc, path)
            del parent[path[-1]]
        return doc

    def replace(self, doc: Any) -> Any:
        path = self.pick_path(doc)
        if path is not None:
            _parent(doc, path)[path[-1]] = copy.deepcopy(self.rng.choice(JSON_VALUES))
        return doc

    def duplicate(self, doc: Any) -> Any:
        path = self.pick_path(doc)
        if path is not None:
            parent = _parent(doc, path)
            value = copy.deepcopy(parent[path[-1]])
            if isinstance(parent, list):
                parent.insert(path[-1], value)  # e.g. the same input twice
            else:
                parent[f"{path[-1]}_copy"] = value
        return doc

    def hostile_name(self, doc: Any) -> Any:
        datasets = [
            d
            for k in ("inputs", "outputs")
            if isinstance(doc.get(k), list)
            for d in doc[k]
            if isinstance(d, dict)
        ]
        if datasets:
            d = self.rng.choice(datasets)
            field_name = self.rng.choice(["namespace", "name"])
            d[field_name] = self.rng.choice([self.text(), f"{d.get(field_name)}{self.text()}"])
        return doc

    def hostile_job(self, doc: Any) -> Any:
        job = doc.get("job")
        if isinstance(job, dict):
            job[self.rng.choice(["namespace", "name"])] = self.text()
        return doc

    def event_type(self, doc: Any) -> Any:
        doc["eventType"] = self.rng.choice(EVENT_TYPES)
        return doc

    def event_time(self, doc: Any) -> Any:
        doc["eventTime"] = self.rng.choice(
            [
                "0001-01-01T00:00:00+01:00",
                "9999-12-31T23:59:59-01:00",
                "2026-03-01T10:00:00.123456789123Z",
                "2026-02-29T10:00:00Z",
                "2026-03-01 10:00:00+23:59",
                "2026-03-01T10:00:60Z",
                "2026-03-01T10:00:00" + self.text(),
                1772323200,
            ]
        )
        return doc

    def inflate(self, doc: Any) -> Any:
        # Wide lineage around the default cap of 10,000 candidate edges: past
        # it (too_many_edges, refused before any pair is made), at it, or just
        # wide. Events at the cap are rare: each folds 10,000 edges.
        shapes = [(101, 100), (100, 101), (120, 90), (10_001, 1)] * 3 + [(100, 100)]
        shapes += [(self.rng.randint(1, 40), self.rng.randint(1, 40))] * 8
        n_in, n_out = self.rng.choice(shapes)
        doc["inputs"] = [{"namespace": "postgres://wide", "name": f"in{i}"} for i in range(n_in)]
        doc["outputs"] = [{"namespace": "snowflake://wide", "name": f"O{i}"} for i in range(n_out)]
        return doc


DOC_OPS: dict[str, Callable[[Mutator, Any], Any]] = {
    "drop": Mutator.drop,
    "replace": Mutator.replace,
    "duplicate": Mutator.duplicate,
    "hostile_name": Mutator.hostile_name,
    "hostile_job": Mutator.hostile_job,
    "event_type": Mutator.event_type,
    "event_time": Mutator.event_time,
}


def _flip(value: bytes, rng: random.Random) -> bytes:
    out = bytearray(value)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _truncate(value: bytes, rng: random.Random) -> bytes:
    return value[: rng.randrange(len(value))]


def _splice(value: bytes, rng: random.Random) -> bytes:
    other = BASE[rng.randrange(len(BASE))]
    return value[: rng.randrange(len(value))] + other[rng.randrange(len(other)) :]


def _dup_key(value: bytes, rng: random.Random) -> bytes:
    # a second "eventType" key: the last one wins (docs/design.md section 2)
    kind = rng.choice([b"START", b"COMPLETE", b"OTHER"])
    return value[:-1] + b',"eventType":"' + kind + b'"}'


BYTE_OPS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "flip": _flip,
    "truncate": _truncate,
    "splice": _splice,
    "dup_key": _dup_key,
}


@dataclass(frozen=True)
class Message:
    topic: str  # "events" or "control"
    key: bytes | None
    value: bytes | None
    what: str


@st.composite
def mutated_event(draw: st.DrawFn) -> Message:
    base = BASE[draw(st.integers(0, len(BASE) - 1))]
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    texts = draw(st.lists(hostile_text, max_size=3))
    ops = draw(st.lists(st.sampled_from([*DOC_OPS, *BYTE_OPS, "inflate"]), min_size=1, max_size=3))
    inflate = "inflate" in ops and draw(st.integers(0, 5)) == 0
    mutator = Mutator(rng, texts)
    value = base
    try:
        doc = json.loads(base)
    except ValueError:  # realistic_mix's own broken messages: bytes mutations only
        doc = None
    if isinstance(doc, dict):
        for op in ops:
            if op in DOC_OPS:
                doc = DOC_OPS[op](mutator, doc)
        if inflate:
            doc = mutator.inflate(doc)
        value = dumps(doc)
    for op in ops:
        if op in BYTE_OPS and value:
            value = BYTE_OPS[op](value, rng)
    return Message("events", b"mutated", value, f"mutated {ops}")


@st.composite
def arbitrary_bytes(draw: st.DrawFn) -> Message:
    prefix = draw(st.sampled_from([b"", b"{", b'{"eventType":', b"[", b"\xef\xbb\xbf{"]))
    body = draw(st.binary(max_size=120))
    value = None if draw(st.integers(0, 40)) == 0 else prefix + body  # now and then a tombstone
    key = draw(st.none() | st.binary(max_size=8)) or b"k"
    return Message("events", key, value, "bytes")


@st.composite
def valid_event(draw: st.DrawFn) -> Message:
    """A client-made event over a small pool of datasets, so edges are shared."""
    inputs = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=3, unique=True))
    outputs = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=2, unique=True))
    day, second = draw(st.integers(1, 9)), draw(st.integers(0, 59))
    value = ol_event(
        draw(st.sampled_from(["COMPLETE", "COMPLETE", "COMPLETE", "START", "FAIL"])),
        job=("fuzz", draw(st.sampled_from(["a", "b", "c:d", "*"]))),
        inputs=inputs,
        outputs=outputs,
        event_time=f"2026-03-0{day}T10:00:{second:02d}Z",
    )
    return Message("events", b"valid", value, "valid")


NAMESPACES = ["postgres://db", "snowflake://acme", "s3://b", "snowflake://*", "*", "kafka://k:1"]
TIMES = [
    "2026-03-01T10:00:00Z",
    "2026-03-02 11:00:00.5+01:00",
    "2026-03-03t09:00:00z",
    "2026-03-04",
]


@st.composite
def shaped_event(draw: st.DrawFn) -> Message:
    """An object shaped like a RunEvent, each field valid or hostile: the
    grammar-aware part of the fuzz, which reaches validation and the rule."""

    def text() -> st.SearchStrategy[Any]:
        return st.sampled_from(NAMESPACES) | hostile_text | st.sampled_from(JSON_VALUES)

    dataset = st.fixed_dictionaries(
        {"namespace": text(), "name": st.sampled_from(["a", "B", "c:d"]) | hostile_text},
        optional={
            "facets": st.none()
            | st.fixed_dictionaries({"datasetType": st.fixed_dictionaries({"datasetType": text()})})
        },
    )
    doc = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "eventType": st.sampled_from(["COMPLETE"] * 4 + EVENT_TYPES[1:]),
                "eventTime": st.sampled_from(TIMES) | hostile_text,
                "job": st.fixed_dictionaries({"namespace": text(), "name": text()}),
                "run": st.fixed_dictionaries(
                    {},
                    optional={
                        "runId": st.uuids().map(str) | hostile_text,
                        "facets": st.sampled_from(JSON_VALUES),
                    },
                ),
                "inputs": st.none() | st.lists(dataset, max_size=3),
                "outputs": st.none() | st.lists(dataset, max_size=3),
                "dataset": dataset,
                "producer": text(),
            },
        )
    )
    return Message("events", b"shaped", dumps(doc), "shaped")


@st.composite
def control_message(draw: st.DrawFn) -> Message:
    kind = draw(st.sampled_from(["edge", "source", "target", "bytes", "mutated"]))
    when = f"2026-03-0{draw(st.integers(1, 9))}T00:00:00Z"
    src, dst = draw(st.sampled_from(POOL)), draw(st.sampled_from(POOL))
    value: bytes | None
    if kind == "edge":
        value = delete_value(src, dst, when)
    elif kind == "source":
        value = delete_value(src, None, when)
    elif kind == "target":
        value = delete_value(None, dst, when)
    elif kind == "bytes":
        value = draw(st.none() | st.binary(max_size=60))
    else:
        doc = json.loads(delete_value(src, dst, when))
        mutator = Mutator(
            random.Random(draw(st.integers(0, 2**32 - 1))), draw(st.lists(hostile_text, max_size=2))
        )
        for op in draw(
            st.lists(st.sampled_from(["drop", "replace", "duplicate"]), min_size=1, max_size=2)
        ):
            doc = DOC_OPS[op](mutator, doc)
        value = dumps(doc)
    return Message("control", b"control", value, f"control {kind}")


def message() -> st.SearchStrategy[Message]:
    return st.one_of(
        arbitrary_bytes(),
        mutated_event(),
        mutated_event(),
        shaped_event(),
        valid_event(),
        valid_event(),
        control_message(),
    )


# --------------------------------------------------------------- the run


class HealthWatch:
    """Polls the worker's /healthz in a thread for the whole run and keeps
    what went wrong: a non-200 answer, no answer, or the process gone."""

    def __init__(self, worker: WorkerProcess, interval: float = 0.5) -> None:
        self.worker = worker
        self.interval = interval
        self.failures: list[str] = []
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.worker.running:
                self.failures.append(f"worker exited with {self.worker.returncode}")
                return
            try:
                status, body = self.worker.http_get("/healthz", timeout=15)
                if status != 200:
                    self.failures.append(f"/healthz answered {status}: {body[:200]!r}")
            except Exception as exc:  # no answer at all is what this watches for
                self.failures.append(f"/healthz: {type(exc).__name__}: {exc}")
            self.polls += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@dataclass
class Books:
    """Everything sent so far, per topic, in offset order."""

    events: list[bytes | None] = field(default_factory=list)
    events_at: list[tuple[int, int, int]] = field(default_factory=list)
    control: list[bytes | None] = field(default_factory=list)
    control_at: list[tuple[int, int, int]] = field(default_factory=list)
    seen: set[bytes | None] = field(default_factory=set)


def test_fuzzed_messages_never_crash_or_stall_the_worker_and_the_books_balance(
    stack: Stack,
) -> None:
    worker = stack.start_worker(LINEAGE_BATCH_SIZE="200")
    books = Books()
    started = time.monotonic()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.lists(message(), min_size=MESSAGES_PER_EXAMPLE[0], max_size=MESSAGES_PER_EXAMPLE[1]),
        st.lists(st.tuples(st.booleans(), st.integers(0, 10**9)), min_size=5, max_size=25),
    )
    def run(messages: list[Message], redeliveries: list[tuple[bool, int]]) -> None:
        # Hypothesis also makes examples by changing a few choices of an earlier
        # one: resending hundreds of known messages proves little more than
        # dedup, so such an example is skipped for a fresher one.
        fresh = {m.value for m in messages} - books.seen
        if len(fresh) < len(messages) // 2:
            reject()
        books.seen |= fresh
        kinds: dict[str, int] = {}
        for m in messages:
            kinds[m.what.split(" ")[0]] = kinds.get(m.what.split(" ")[0], 0) + 1
        note(f"{len(messages)} messages: {kinds}")
        events = [(m.key, m.value) for m in messages if m.topic == "events"]
        # redeliveries: the same bytes again, from this example or an earlier one
        for earlier, i in redeliveries:
            if earlier and books.events:
                events.append((b"redelivered", books.events[i % len(books.events)]))
            elif events:
                events.append(events[i % len(events)])
        controls = [(m.key, m.value) for m in messages if m.topic == "control"]
        # a record needs a key or a value (aiokafka): a tombstone keeps its key
        books.events_at += produce(stack.bootstrap, stack.input_topic, events, partition=0)
        books.events += [v for _, v in events]
        if controls:
            books.control_at += produce(stack.bootstrap, stack.control_topic, controls, partition=0)
            books.control += [v for _, v in controls]
        sent = Sent.of(stack.input_topic, books.events, books.events_at)
        control = Sent.of(stack.control_topic, books.control, books.control_at)
        t0 = time.monotonic()
        check_accounting(
            [worker],
            sent,
            control=control,
            bootstrap=stack.bootstrap,
            dlq_topic=stack.dlq_topic,
            timeout=STALL_BOUND,
        )
        took = time.monotonic() - t0
        note(f"balanced after {took:.1f}s")
        print(f"fuzz example: {len(messages)} messages {kinds}, balanced after {took:.1f}s")
        assert worker.running, worker.describe()

    with HealthWatch(worker) as health:
        run()
    elapsed = time.monotonic() - started

    assert worker.running, worker.describe()
    assert not health.failures, (health.failures[:5], worker.describe())
    assert health.polls >= 2
    total = len(books.events) + len(books.control)
    assert total >= EXAMPLES * MESSAGES_PER_EXAMPLE[0], total
    # the run exercised every kind of outcome, or it proves little
    want = expect(
        Sent.of(stack.input_topic, books.events, books.events_at),
        Sent.of(stack.control_topic, books.control, books.control_at),
    )
    assert want.outcomes["accepted"]
    assert want.outcomes["duplicate"]
    assert want.outcomes["deletes"]
    assert {"invalid_json", "invalid_event", "invalid_control", "too_many_edges"} <= set(
        want.rejected
    )
    assert want.ignored
    distinct = len(set(books.events)) + len(set(books.control))
    print(
        f"fuzz: {total} messages ({distinct} distinct) in {elapsed:.0f}s; "
        f"outcomes {dict(want.outcomes)}, rejected {dict(want.rejected)}"
    )
