"""Hostile input through the real worker: every message of a catalogue of
malformed, oversized and strangely named messages gets the outcome the contract
gives it (docs/design.md sections 2, 3, 5 and 7), and names of any shape round-trip.

Each case states its expected outcome by hand, from the contract, with the
arithmetic in a comment where there is some (edge counts, nesting depths). The
pure core must agree with every one of them (so the reference the accounting
check uses is the contract's), and the worker must agree with the pure core:
``check_accounting`` ends the scenario (every message exactly one outcome, each
rejection in the DLQ with its reason, the served snapshot hash = the pure fold).
"""

from __future__ import annotations

import json
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from typing import Any

from processor.core.control import parse_control
from processor.core.identity import node_id
from processor.core.pipeline import Accepted, Classified, Ignored, Limits, Rejected, classify
from processor.core.rules import MixRule
from tests.events import dataset, dumps, ol_dataset_event, ol_event, raw_event
from tests.integration.accounting import Sent, check_accounting, expect
from tests.integration.conftest import Stack
from tests.integration.harness import WorkerProcess
from tests.integration.kafka_utils import produce
from tests.integration.streams import delete_value

RULE = MixRule("mixed", ["snowflake://*"])  # the stack's LINEAGE_INTERNAL_NAMESPACES
LIMITS = Limits()  # the worker runs with the defaults: 1 MiB, depth 64, 1000, 10,000
MIB = 1024 * 1024
SF = "snowflake://acme"
PG = "postgres://db"
TIME = "2026-03-01T10:00:00Z"
DELETE_TIME = "2026-03-02T00:00:00Z"  # after every event of the catalogue

ACCEPTED = "accepted"
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Case:
    """One message: what it is, and its outcome by the contract.

    ``want`` is ``accepted``, ``duplicate``, ``ignored:<event type>`` or a DLQ
    reason; ``edges`` is the number of edges an accepted event folds.
    """

    label: str
    value: bytes | None
    want: str
    edges: int = 0
    key: bytes | None = b"hostile"


def event(
    job: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], **extra: Any
) -> bytes:
    return raw_event(
        job={"namespace": "hostile", "name": job}, inputs=inputs, outputs=outputs, **extra
    )


def crossing(job: str, **extra: Any) -> bytes:
    """One external input, one internal output: one edge under the mixed rule."""
    return event(job, [dataset(PG, f"in.{job}")], [dataset(SF, f"OUT.{job}")], **extra)


def nested(levels: int) -> Any:
    """A JSON value exactly ``levels`` deep (objects inside objects, a number at the bottom)."""
    value: Any = 1
    for _ in range(levels):
        value = {"d": value}
    return value


def with_run_facet(job: str, facet: Any) -> bytes:
    # Depth of run.facets.custom: the event object (1), "run" (2), "facets" (3),
    # then the facet value's own levels.
    run = {"runId": "3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f", "facets": {"custom": facet}}
    return crossing(job, run=run)


def splice(value: bytes, before: bytes, insert: bytes) -> bytes:
    """``value`` with ``insert`` put right before the first ``before``."""
    at = value.index(before)
    return value[:at] + insert + value[at:]


# Texts that mean something to Redis keys, globs, Lua, terminals or bidi
# rendering. None holds NUL (forbidden in dataset names) nor starts with
# "snowflake://" (it would make the external namespaces below internal).
HOSTILE = [
    ":",
    "a:b",
    "{",
    "}",
    "{lineage:g1}:n:",
    "}:e:{",
    "*",
    "?",
    "[abc]",
    "[",
    "]",
    "*[!x]?",
    "%",
    "%s%d%%",
    "%00",
    "..",
    "]]",
    "[[",
    "[==[",
    "--",
    "-- comment",
    "\\0",
    "\\",
    '"',
    "'); return 1 --",
    "\n",
    "a\nb",
    "\r\n",
    "\t",
    " ",
    "\u200f",  # right-to-left mark
    "abc\u202edef",  # right-to-left override
    "\u200d",  # zero-width joiner
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",  # a family emoji, joined
    "e\u0301",  # e + combining acute
    "\ufeff",  # BOM as a character
    "\u2028",  # line separator
    "\uffff",
    "\U0010ffff",
    "\x7f\x1b[31m",  # DEL and an ANSI escape
    "+&=#?/",  # URL-significant
    ";",
    "1e3",
    "nan",
    "null",
    "edges",
    "n:",
]
assert all("\x00" not in h and not h.startswith("snowflake://") for h in HOSTILE)
assert len(set(HOSTILE)) == len(HOSTILE)


def hostile_pairs(i: int, h: str) -> tuple[tuple[str, str], tuple[str, str], tuple[str, str]]:
    """The datasets of hostile event ``i``: (h, h) and a Marquez-addressable name
    containing ``h``, both external, into (snowflake://h, h), internal since
    ``*`` matches any text. Distinct per ``h``, so each event folds 2 new edges."""
    return (h, h), (PG, f"m{i}:{h}"), (f"snowflake://{h}", h)


def hostile_job(i: int, h: str) -> str:
    return f"job{i}:{h}"


def hostile_event(i: int, h: str) -> bytes:
    a, m, target = hostile_pairs(i, h)
    return event(hostile_job(i, h), [dataset(*a), dataset(*m)], [dataset(*target)])


def own_key(prefix: str) -> str:
    """The Redis key of the base event's input dataset, in this worker's key space."""
    return f"{{{prefix}:g1}}:n:{node_id(PG, 'in.base')}"


def input_cases(prefix: str) -> list[Case]:
    """The input-topic catalogue, in publishing order (``prefix``: the worker's
    Redis key prefix, for names that spell its keys)."""
    cases: list[Case] = []
    add = cases.append

    # good events, made by the openlineage-python client, before, among and after the rest
    def good(n: int) -> Case:
        value = ol_event(
            job=("good", f"job{n}"),
            inputs=[(PG, f"public.good{n}")],
            outputs=[(SF, f"RAW.GOOD{n}")],
            event_time=f"2026-03-01T0{n}:00:00Z",
        )
        return Case(f"good event {n}", value, ACCEPTED, edges=1)

    add(good(0))

    # -- the edge cap: distinct inputs x distinct outputs minus self-pairs, against 10,000
    ext = [dataset("postgres://wide", f"in{i:03d}") for i in range(101)]
    internal = [dataset(SF, f"WIDE.OUT{i:03d}") for i in range(101)]
    add(
        Case(
            "101 inputs x 100 outputs: 10,100 candidates",
            event("wide-101", ext, internal[:100]),
            "too_many_edges",
        )
    )
    add(
        Case(
            "100 inputs x 100 outputs, every pair crossing: 10,000 edges, at the cap",
            event("wide-100", ext[:100], internal[:100]),
            ACCEPTED,
            edges=10_000,
        )
    )
    # 100 distinct inputs, each listed 3 times: still 100 x 100 candidates
    add(
        Case(
            "100 inputs listed 3 times each x 100 outputs: 10,000 distinct candidates",
            event("wide-repeated", ext[:100] * 3, internal[:100]),
            ACCEPTED,
            edges=10_000,
        )
    )
    # 101 inputs x 100 outputs, one dataset on both sides: 10,100 - 1 self-pair
    shared = [*ext[:100], internal[0]]
    add(
        Case(
            "101 inputs x 100 outputs sharing one dataset: 10,099 candidates",
            event("wide-shared", shared, internal[:100]),
            "too_many_edges",
        )
    )

    # -- nesting: the event is depth 1, run 2, run.facets 3, then the facet's levels
    add(
        Case(
            "facet nesting to depth 64 (3 + 61)", with_run_facet("deep-64", nested(61)), ACCEPTED, 1
        )
    )
    add(
        Case(
            "facet nesting to depth 65 (3 + 62)",
            with_run_facet("deep-65", nested(62)),
            "invalid_json",
        )
    )
    # 3 + the facet object (1) + 60 levels of arrays = 64
    arrays = json.loads("[" * 60 + "]" * 60)
    add(
        Case(
            "arrays nested to depth 64 in a facet",
            with_run_facet("deep-arrays", {"a": arrays}),
            ACCEPTED,
            1,
        )
    )
    add(Case("a JSON bomb: 100,000 nested arrays", b"[" * 100_000 + b"]" * 100_000, "invalid_json"))
    add(
        Case(
            "an event with 100,000 nested arrays in a facet",
            splice(crossing("bomb"), b'"job"', b'"bomb":' + b"[" * 100_000 + b"]" * 100_000 + b","),
            "invalid_json",
        )
    )
    add(
        Case(
            "2,000 levels of objects",
            b'{"a":' * 2000 + b"1" + b"}" * 2000,
            "invalid_json",
        )
    )

    # -- long strings (the cap is on bytes: 1 MiB = 1,048,576)
    add(Case("a 600 KB facet string", with_run_facet("long-600k", "x" * 600_000), ACCEPTED, 1))
    add(
        Case(
            "a 400 KB facet string of brackets (text, not nesting)",
            with_run_facet("brackets", "[{" * 200_000),
            ACCEPTED,
            1,
        )
    )
    add(
        Case(
            "a 360 KB facet string of escapes (150,000 characters)",
            with_run_facet("escapes", '\\"\n\u00e9\U0001f600' * 30_000),
            ACCEPTED,
            1,
        )
    )
    add(
        Case(
            "a 200 KB job name",
            event("j" * 200_000, [dataset(PG, "in.longjob")], [dataset(SF, "OUT.LONGJOB")]),
            ACCEPTED,
            1,
        )
    )
    # the limit is on bytes, "larger than" 1 MiB: exactly 1 MiB passes
    fill = MIB - len(with_run_facet("exact", ""))
    exact, above = with_run_facet("exact", "x" * fill), with_run_facet("above", "x" * (fill + 1))
    assert (len(exact), len(above)) == (MIB, MIB + 1)
    add(Case("a message of exactly 1 MiB", exact, ACCEPTED, 1))
    add(Case("a message of 1 MiB + 1 byte", above, "too_large"))
    add(Case("a message of 1.5 MiB", b"x" * (MIB + MIB // 2), "too_large"))
    add(
        Case(
            "a name of 1000 four-byte emoji (1000 code points, 4000 bytes)",
            event("emoji-1000", [dataset(PG, "\U0001f600" * 1000)], [dataset(SF, "OUT.EMOJI")]),
            ACCEPTED,
            1,
        )
    )
    add(
        Case(
            "a name of 1001 emoji",
            event("emoji-1001", [dataset(PG, "\U0001f600" * 1001)], [dataset(SF, "OUT.EMOJI")]),
            "name_too_long",
        )
    )
    add(
        Case(
            "a name of 1000 combining marks",
            event("combining", [dataset(PG, "\u0301" * 1000)], [dataset(SF, "OUT.COMBINING")]),
            ACCEPTED,
            1,
        )
    )

    # -- not one JSON object (docs/design.md section 2: invalid_json)
    base = crossing("base")
    add(Case("the base event", base, ACCEPTED, 1))
    for label, value in [
        ("truncated", base[: len(base) // 2]),
        ("truncated by one byte", base[:-1]),
        ("trailing garbage", base + b"x"),
        ("two objects", base + base),
        ("two JSON lines", base + b"\n" + base),
        ("NaN", splice(base, b'"job"', b'"n":NaN,')),
        ("Infinity", splice(base, b'"job"', b'"n":Infinity,')),
        ("-Infinity", splice(base, b'"job"', b'"n":-Infinity,')),
        ("1e400 overflows a double", splice(base, b'"job"', b'"n":1e400,')),
        (
            "an integer of 10,000 digits overflows a double",
            splice(base, b'"job"', b'"n":' + b"9" * 10_000 + b","),
        ),
        ("an escaped lone high surrogate", splice(base, b'"job"', b'"s":"\\ud800",')),
        ("an escaped lone low surrogate", splice(base, b'"job"', b'"s":"x\\udc00",')),
        ("a reversed surrogate pair", splice(base, b'"job"', b'"s":"\\ude00\\ud83d",')),
        ("a bare number", b"42"),
        ("a bare string", b'"COMPLETE"'),
        ("true", b"true"),
        ("JSON null", b"null"),
        ("an empty array", b"[]"),
        ("the event inside an array", b"[" + base + b"]"),
        ("empty bytes", b""),
        ("whitespace only", b" \n\t\r "),
        ("a byte-order mark before the event", b"\xef\xbb\xbf" + base),
        ("UTF-16", base.decode().encode("utf-16")),
        ("single quotes", base.replace(b'"', b"'")),
        ("a trailing comma", base[:-1] + b",}"),
        ("a comment", b"/* c */" + base),
        ("a raw newline inside a string", splice(base, b'"job"', b'"s":"a\nb",')),
        ("a raw NUL inside a string", splice(base, b'"job"', b'"s":"a\x00b",')),
        ("an unknown escape", splice(base, b'"job"', b'"s":"\\x41",')),
        ("a key that is not a string", splice(base, b'"job"', b"1:2,")),
        # not UTF-8: each inside a name of an otherwise valid event
        ("overlong '/' (C0 AF)", base.replace(b"in.base", b"in.\xc0\xaf")),
        ("overlong NUL (C0 80)", base.replace(b"in.base", b"in.\xc0\x80")),
        ("3-byte overlong (E0 80 AF)", base.replace(b"in.base", b"in.\xe0\x80\xaf")),
        ("a UTF-8 encoded surrogate (ED A0 80)", base.replace(b"in.base", b"in.\xed\xa0\x80")),
        ("a truncated 3-byte sequence", base.replace(b"in.base", b"in.\xe2\x82")),
        ("a lone continuation byte", base.replace(b"in.base", b"in.\x80")),
        ("0xFF", base.replace(b"in.base", b"in.\xff")),
        ("0xFE 0xFF", base.replace(b"in.base", b"\xfe\xff")),
        ("above U+10FFFF (F4 90 80 80)", base.replace(b"in.base", b"in.\xf4\x90\x80\x80")),
        ("a 5-byte form (F8 88 80 80 80)", base.replace(b"in.base", b"\xf8\x88\x80\x80\x80")),
        ("Latin-1 e-acute", base.replace(b"in.base", "in.\u00e9".encode("latin-1"))),
    ]:
        add(Case(label, value, "invalid_json"))
    add(Case("a tombstone (null value)", None, "invalid_json", key=b"tombstone"))
    add(Case("a tombstone with an empty key", None, "invalid_json", key=b""))

    # valid JSON of odd spellings: same content as the base event
    add(
        Case(
            "the base event pretty-printed (same content)",
            json.dumps(json.loads(base), indent=4).encode(),
            DUPLICATE,
        )
    )
    add(
        Case(
            "the base event ASCII-escaped (same content)",
            json.dumps(json.loads(base), ensure_ascii=True).encode(),
            DUPLICATE,
        )
    )
    # duplicate keys: the last one wins (section 2), so these are the base event again...
    add(
        Case(
            "a duplicate eventType key, COMPLETE last",
            splice(base, b'"eventType"', b'"eventType":"START",'),
            DUPLICATE,
        )
    )
    # ...or, START last, a START event
    add(
        Case(
            "a duplicate eventType key, START last",
            base[:-1] + b',"eventType":"START"}',
            "ignored:START",
        )
    )
    add(
        Case(
            "a 10,000-digit fraction rounds to a double (1.0): valid",
            splice(crossing("long-fraction"), b'"job"', b'"n":0.' + b"9" * 10_000 + b","),
            ACCEPTED,
            1,
        )
    )
    add(
        Case(
            "an escaped surrogate pair (a valid emoji)",
            splice(crossing("pair"), b'"job"', b'"s":"\\ud83d\\ude00",'),
            ACCEPTED,
            1,
        )
    )

    # -- valid JSON, not the lineage profile (invalid_event)
    not_datasets: list[tuple[str, list[Any]]] = [
        ("a NUL in a dataset name", [dataset(PG, "a\x00b")]),
        ("a NUL in a dataset namespace", [dataset("pg\x00", "a")]),
        ("an empty dataset name", [dataset(PG, "")]),
        ("a number as a dataset name", [{"namespace": PG, "name": 7}]),
        ("a dataset as a string", ["postgres://db/a"]),
        ("facets as a list", [dataset(PG, "a", facets=[])]),
    ]
    for label, inputs in not_datasets:
        add(Case(label, event("bad-event", inputs, [dataset(SF, "OUT")]), "invalid_event"))
    add(
        Case(
            "inputs as an object", raw_event(inputs={"namespace": PG, "name": "a"}), "invalid_event"
        )
    )
    add(Case("eventType in lower case", raw_event(eventType="complete"), "invalid_event"))
    add(
        Case("eventTime with a trailing newline", raw_event(eventTime=TIME + "\n"), "invalid_event")
    )
    add(Case("eventTime hour 24", raw_event(eventTime="2026-03-01T24:00:00Z"), "invalid_event"))
    add(Case("an empty job name", raw_event(job={"namespace": "dbt", "name": ""}), "invalid_event"))
    add(Case("an empty object", b"{}", "invalid_event"))

    add(good(1))

    # -- hostile names, accepted: two edges each
    for i, h in enumerate(HOSTILE):
        add(Case(f"names holding {h!r}", hostile_event(i, h), ACCEPTED, 2))
    add(Case("the first hostile event again (same bytes)", hostile_event(0, HOSTILE[0]), DUPLICATE))
    # (namespace, name) pairs that one separator would confuse: four datasets
    add(
        Case(
            "namespace/name splits that a naive key would merge",
            event(
                "collide",
                [dataset("x:y", "z"), dataset("x", "y:z"), dataset("xy", "z"), dataset("x", "yz")],
                [dataset(SF, "COLLIDE")],
            ),
            ACCEPTED,
            4,
        )
    )
    # glob characters in namespaces are text: none of these matches snowflake://*
    # (case-sensitive), so all four inputs are external and every edge crosses
    add(
        Case(
            "names that spell this worker's own Redis key of another dataset",
            event(
                "own-key",
                [dataset(own_key(prefix), own_key(prefix))],
                [dataset(SF, own_key(prefix))],
            ),
            ACCEPTED,
            1,
        )
    )
    add(
        Case(
            "namespaces made of glob characters are external",
            event(
                "globs",
                [
                    dataset("*", "*"),
                    dataset("s*", "[abc]"),
                    dataset("snowflake:/*", "?"),
                    dataset("SNOWFLAKE://ACME", "x"),
                ],
                [dataset(SF, "GLOB")],
            ),
            ACCEPTED,
            4,
        )
    )
    # the literal namespace "snowflake://*" is internal (the glob matches it):
    # with internal SF outputs only, nothing crosses
    add(
        Case(
            "a namespace that is the glob itself is internal",
            event("glob-itself", [dataset("snowflake://*", "x")], [dataset(SF, "GLOB")]),
            "mix_rule_internal_only",
        )
    )
    add(
        Case(
            "a job name with NUL, quotes and a JSON array (job names may hold NUL)",
            event('["a",\x00"b"]\\', [dataset(PG, "in.job-nul")], [dataset(SF, "OUT.JOB-NUL")]),
            ACCEPTED,
            1,
        )
    )
    add(
        Case(
            "a datasetType facet holding hostile text",
            event(
                "typed",
                [dataset(PG, "in.typed", dataset_type="\x00}{:*\n\u202e")],
                [dataset(SF, "OUT.TYPED")],
            ),
            ACCEPTED,
            1,
        )
    )
    add(
        Case(
            "a START event with hostile names",
            raw_event(eventType="START", inputs=[dataset("*", "\n")], outputs=[dataset(SF, "{")]),
            "ignored:START",
        )
    )
    add(
        Case(
            "a static DatasetEvent with a hostile name",
            ol_dataset_event(("*:{", "]]\u202e"), TIME),
            "ignored:DATASET_EVENT",
        )
    )
    add(
        Case(
            "only hostile external datasets",
            event("ext-only", [dataset(":", "*")], [dataset("{", "}")]),
            "mix_rule_external_only",
        )
    )
    cases.append(
        Case("a hostile Kafka key", crossing("hostile-key"), ACCEPTED, 1, key=b"\xff\x00\n:{*}")
    )
    add(good(2))
    return cases


# Hostile texts whose edge (h, h) -> (snowflake://h, h) a delete hides: by
# naming the edge, or its source (whose only edge it is)
DELETED = {
    "{lineage:g1}:n:": "edge",
    "*[!x]?": "edge",
    "'); return 1 --": "edge",
    "\u200f": "source",
    "}:e:{": "source",
}


def control_cases() -> list[Case]:
    """The control-topic catalogue: malformed messages, then deletes of hostile edges."""
    ok = {"op": "delete", "source": {"namespace": PG, "name": "a"}, "requestedAt": DELETE_TIME}

    def variant(**fields: Any) -> bytes:
        return dumps({**ok, **fields})

    def without(field: str) -> bytes:
        return dumps({k: v for k, v in ok.items() if k != field})

    bad: list[tuple[str, bytes | None]] = [
        ("not JSON", b"delete everything"),
        ("empty bytes", b""),
        ("a tombstone", None),
        ("an array", b"[" + dumps(ok) + b"]"),
        ("a bare string", b'"delete"'),
        ("truncated", dumps(ok)[:-2]),
        ("a byte-order mark", b"\xef\xbb\xbf" + dumps(ok)),
        ("invalid UTF-8 in a name", dumps(ok).replace(b'"a"', b'"\xff"')),
        ("nesting deeper than 64", variant(source={"namespace": PG, "name": "a", "x": nested(70)})),
        ("op drop", variant(op="drop")),
        ("op DELETE (case)", variant(op="DELETE")),
        ("op null", variant(op=None)),
        ("no op", without("op")),
        ("no requestedAt", without("requestedAt")),
        ("neither source nor target", without("source")),
        ("source without name", variant(source={"namespace": PG})),
        ("source as a string", variant(source=f"{PG}/a")),
        ("source with an empty name", variant(source={"namespace": PG, "name": ""})),
        ("a NUL in a name", variant(source={"namespace": PG, "name": "a\x00"})),
        ("requestedAt a number", variant(requestedAt=1_772_000_000)),
        ("requestedAt a date alone", variant(requestedAt="2026-03-02")),
        ("requestedAt month 13", variant(requestedAt="2026-13-01T00:00:00Z")),
        ("requestedAt hour 24", variant(requestedAt="2026-03-01T24:00:00Z")),
        ("requestedAt words", variant(requestedAt="yesterday")),
        ("an extra field", variant(force=True)),
        ("an extra field in the source", variant(source={"namespace": PG, "name": "a", "x": 1})),
        ("huge: a 600 KB extra field", variant(padding="x" * 600_000)),
        ("huge: a 600 KB unterminated string", b'{"op":"delete","x":"' + b"x" * 600_000),
    ]
    cases = [
        Case(f"control: {label}", value, "invalid_control", key=b"control") for label, value in bad
    ]
    for h, kind in DELETED.items():
        i = HOSTILE.index(h)
        a, _, target = hostile_pairs(i, h)
        cases.append(
            Case(
                f"control: delete the {kind} of {h!r}",
                delete_value(a, target if kind == "edge" else None, DELETE_TIME),
                "delete",
                key=b"control",
            )
        )
    return cases


def pure_outcomes(cases: list[Case]) -> list[str]:
    """What the pure core says of each input message, in order (dedup included)."""
    seen: set[str] = set()
    out: list[str] = []
    for case in cases:
        c = classify(case.value, RULE, LIMITS)
        if isinstance(c, Rejected):
            out.append(c.reason)
            continue
        assert isinstance(c, Classified)
        if c.content_hash in seen:
            out.append(DUPLICATE)
            continue
        seen.add(c.content_hash)
        o = c.outcome
        if isinstance(o, Accepted):
            out.append(ACCEPTED)
        elif isinstance(o, Ignored):
            out.append(f"ignored:{o.event_type}")
        else:
            out.append(o.reason)
    return out


def edges_of(case: Case) -> int:
    c = classify(case.value, RULE, LIMITS)
    if isinstance(c, Classified) and isinstance(c.outcome, Accepted):
        return len(c.outcome.fold.edges)
    return 0


def query(path: str, **params: str | int) -> str:
    # quote, not quote_plus: a "+" in a name must stay a "+"
    return path + "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def node_of(pair: tuple[str, str]) -> dict[str, str]:
    return {"namespace": pair[0], "name": pair[1]}


def check_round_trips(worker: WorkerProcess, snapshot: dict[str, Any]) -> None:
    """Every hostile name comes back exactly, by every way of asking for it.

    The snapshot's hash equals the pure fold's (checked before), so its edges
    are the reference for what each query must answer.
    """
    names = {(n["namespace"], n["name"]) for n in snapshot["nodes"]}
    pairs = [
        (
            (e["source"]["namespace"], e["source"]["name"]),
            (e["target"]["namespace"], e["target"]["name"]),
        )
        for e in snapshot["edges"]
    ]
    for i, h in enumerate(HOSTILE):
        a, m, target = hostile_pairs(i, h)
        deleted = h in DELETED
        # a node is visible while a visible edge touches it (section 5)
        assert {m, target} <= names, h
        assert (a in names) is not deleted, h

        status, body = worker.http_get(
            query("/api/v1/graph/downstream", namespace=a[0], name=a[1], depth=1)
        )
        down = json.loads(body)
        if deleted:
            # its only edge is hidden: unknown, or known with nothing downstream
            assert status == 404 or (status == 200 and down["edges"] == []), (h, status, down)
        else:
            assert status == 200, (h, status, down)
            assert {k: down["root"][k] for k in ("namespace", "name")} == node_of(a), h
            got = sorted((e["target"]["namespace"], e["target"]["name"]) for e in down["edges"])
            assert target in got, (h, got)
            assert got == sorted(t for s, t in pairs if s == a), (h, got)

        up = worker.get_json(
            query("/api/v1/graph/upstream", namespace=target[0], name=target[1], depth=1)
        )
        assert {k: up["root"][k] for k in ("namespace", "name")} == node_of(target), h
        assert up["root"]["internal"] is True, h
        sources = sorted((e["source"]["namespace"], e["source"]["name"]) for e in up["edges"])
        assert sources == sorted([m] if deleted else [a, m]), (h, sources)
        assert all(
            n["internal"] is False for n in up["nodes"] if (n["namespace"], n["name"]) != target
        ), h

        # Marquez's id: "postgres://db" then the first colon not before "//" or a digit
        nid = f"dataset:{m[0]}:{m[1]}"
        marquez = worker.get_json(query("/api/v1/lineage", nodeId=nid, depth=1))
        ids = {node["id"]: node for node in marquez["graph"]}
        assert nid in ids, (h, sorted(ids))
        assert ids[nid]["data"]["id"] == node_of(m), h
        assert f"dataset:{target[0]}:{target[1]}" in ids, (h, sorted(ids))

        # the job, by its Marquez id: namespace "hostile", then the name
        jid = f"job:hostile:{hostile_job(i, h)}"
        marquez = worker.get_json(query("/api/v1/lineage", nodeId=jid, depth=1))
        ids = {node["id"]: node for node in marquez["graph"]}
        assert jid in ids, (h, sorted(ids))
        job = ids[jid]["data"]
        assert job["id"] == {"namespace": "hostile", "name": hostile_job(i, h)}, h
        assert job["outputs"] == [node_of(target)], (h, job["outputs"])
        assert job["inputs"] == sorted(
            [node_of(m)] if deleted else [node_of(a), node_of(m)],
            key=lambda n: (n["namespace"], n["name"]),
        ), (h, job["inputs"])

        # search is a plain substring match: glob and Lua pattern characters are text
        found = worker.get_json(query("/api/v1/datasets", q=m[1], limit=1000))
        got = [(d["namespace"], d["name"]) for d in found["datasets"]]
        assert m in got, (h, got)
        assert all(m[1] in ns or m[1] in name for ns, name in got), (h, got)
    for needle in ["*", "%", ".", "[", "]]", "?", "-", "\u202e", "%00"]:
        found = worker.get_json(query("/api/v1/datasets", q=needle, limit=1000))
        matched = {(d["namespace"], d["name"]) for d in found["datasets"]}
        # Every node of the graph holding the needle as text (ASCII case does
        # not matter for these needles); search also lists hidden datasets,
        # so compare on the visible ones.
        want = {p for p in names if needle in p[0] or needle in p[1]}
        assert want <= matched, (needle, sorted(want - matched)[:5])
        assert all(needle in ns or needle in name for ns, name in matched), needle
        assert found["total"] == len(matched), needle


def test_a_catalogue_of_hostile_messages_each_gets_its_contract_outcome(stack: Stack) -> None:
    cases = input_cases(stack.prefix)
    controls = control_cases()

    # 1. the pure core agrees with the hand-stated outcome of every message
    pure = pure_outcomes(cases)
    disagree = [(c.label, c.want, got) for c, got in zip(cases, pure, strict=True) if c.want != got]
    assert not disagree, disagree
    wrong_edges = [
        (c.label, c.edges, edges_of(c))
        for c in cases
        if c.want == ACCEPTED and edges_of(c) != c.edges
    ]
    assert not wrong_edges, wrong_edges
    for c in controls:
        parsed = parse_control(c.value, LIMITS.max_depth)
        got = parsed.reason if isinstance(parsed, Rejected) else "delete"
        assert got == c.want, (c.label, got)
    # 10,000 + 10,000 + 2 per hostile text + 4 + 4 + 1 per other accepted event
    edges_folded = sum(c.edges for c in cases if c.want == ACCEPTED)
    single = sum(1 for c in cases if c.want == ACCEPTED and c.edges == 1)
    assert edges_folded == 20_000 + 2 * len(HOSTILE) + 8 + single

    # 2. through the worker
    worker = stack.start_worker()
    produced = produce(
        stack.bootstrap,
        stack.input_topic,
        [(c.key, c.value) for c in cases],
        partition=0,
        max_request_size=2 * MIB,
    )
    events = Sent.of(stack.input_topic, [c.value for c in cases], produced)
    control = Sent.of(
        stack.control_topic,
        [c.value for c in controls],
        produce(
            stack.bootstrap,
            stack.control_topic,
            [(c.key, c.value) for c in controls],
            partition=0,
        ),
    )
    books = check_accounting(
        [worker],
        events,
        control=control,
        bootstrap=stack.bootstrap,
        dlq_topic=stack.dlq_topic,
        timeout=180.0,
    )

    # each dead letter is the case it should be, by label (the accounting check
    # matched them against the pure core; this names what went wrong)
    reason_at = {
        (r.headers["lineage.source.topic"], int(r.headers["lineage.source.offset"])): r.headers[
            "lineage.reason"
        ]
        for r in books.dead_letters
    }
    rejected = {ACCEPTED, DUPLICATE, "delete"}
    for sent, catalogue in ((events, cases), (control, controls)):
        for c, (_, offset) in zip(catalogue, sent.positions, strict=True):
            if c.want.startswith("ignored:") or c.want in rejected:
                assert (sent.topic, offset) not in reason_at, (
                    c.label,
                    reason_at.get((sent.topic, offset)),
                )
            else:
                assert reason_at.get((sent.topic, offset)) == c.want, (
                    c.label,
                    reason_at.get((sent.topic, offset)),
                )

    want = expect(events, control)
    assert want.outcomes["accepted"] == sum(c.want == ACCEPTED for c in cases)
    assert want.rejected == Counter(
        c.want
        for c in [*cases, *controls]
        if c.want not in rejected and not c.want.startswith("ignored:")
    )
    assert worker.metric("lineage_edges_folded_total") == edges_folded
    assert worker.metric("lineage_deletes_applied_total") == len(DELETED)

    # 3. hostile names round-trip through the snapshot and every query
    status, body = worker.http_get("/api/v1/graph/snapshot", timeout=60)
    assert status == 200
    snapshot = json.loads(body)
    check_round_trips(worker, snapshot)

    # the four split-confusable pairs are four datasets
    up = worker.get_json(query("/api/v1/graph/upstream", namespace=SF, name="COLLIDE"))
    assert sorted((e["source"]["namespace"], e["source"]["name"]) for e in up["edges"]) == [
        ("x", "y:z"),
        ("x", "yz"),
        ("x:y", "z"),
        ("xy", "z"),
    ]
    # a name that spells another dataset's key is a dataset of its own, and
    # that other dataset is untouched
    key = own_key(stack.prefix)
    up = worker.get_json(query("/api/v1/graph/upstream", namespace=SF, name=key))
    assert [(e["source"]["namespace"], e["source"]["name"]) for e in up["edges"]] == [(key, key)]
    down = worker.get_json(query("/api/v1/graph/downstream", namespace=PG, name="in.base"))
    assert [e["target"]["name"] for e in down["edges"]] == ["OUT.base"]
    # glob-character namespaces are external datasets, each with its own edge
    up = worker.get_json(query("/api/v1/graph/upstream", namespace=SF, name="GLOB"))
    assert sorted((n["namespace"], n["name"], n["internal"]) for n in up["nodes"]) == [
        ("*", "*", False),
        ("SNOWFLAKE://ACME", "x", False),
        ("s*", "[abc]", False),
        ("snowflake:/*", "?", False),
        (SF, "GLOB", True),
    ]
    typed = [n for n in snapshot["nodes"] if n["name"] == "in.typed"]
    assert [n["type"] for n in typed] == ["\x00}{:*\n\u202e"]
    # the wide event's 100 x 100 edges are in the graph, each once, shared
    # with the event that listed the same inputs three times
    wide = [
        e for e in snapshot["edges"] if {"namespace": "hostile", "name": "wide-100"} in e["jobs"]
    ]
    assert len(wide) == 10_000
    assert len({(e["source"]["name"], e["target"]["name"]) for e in wide}) == 10_000
    assert all(len(e["jobs"]) == 2 and e["events"] == 2 for e in wide)
    jobs = {(j["namespace"], j["name"]) for e in snapshot["edges"] for j in e["jobs"]}
    assert ("hostile", '["a",\x00"b"]\\') in jobs
    # a NUL in a job name survives the URL, the Marquez id and the job index
    jid = 'job:hostile:["a",\x00"b"]\\'
    graph = worker.get_json(query("/api/v1/lineage", nodeId=jid, depth=1))["graph"]
    assert jid in {node["id"] for node in graph}
    assert ("hostile", "j" * 200_000) in jobs
    # the 600 KB message was not cut: its edge is there with its job
    assert ("hostile", "long-600k") in jobs
    assert worker.running, worker.describe()
    assert worker.http_get("/healthz")[0] == 200
