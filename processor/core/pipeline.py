"""One message through the steps of docs/design.md section 3, as a pure function.

``classify`` settles everything that does not need Redis: steps 1-3 end in a
``Rejected`` that is dead-lettered whatever Redis says; otherwise the message
has a content hash and an outcome (ignored, rejected by a rule, or accepted
with the fold it contributes) that applies only if Redis has not seen that hash
(step 4). The worker applies the outcomes of a whole batch in one Redis call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from processor.core.columns import NO_COLUMNS, ColumnFact, extract_columns
from processor.core.decode import decode_object
from processor.core.identity import content_hash, node_id
from processor.core.models import DatasetEvent, JobEvent, RunEvent
from processor.core.pipeline_plan import plan_event
from processor.core.plain_event import PlainDataset, dataset_type, new_tuple, read_plain
from processor.core.reasons import DATASET_EVENT, JOB_EVENT, Reason
from processor.core.rules import DatasetKey, MixMode, MixRule
from processor.core.validate import validate_event
from processor.errors import InvalidMessage


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one message may cost."""

    max_event_bytes: int = 1024 * 1024
    max_depth: int = 64
    max_name_length: int = 1000
    max_edges_per_event: int = 10_000
    max_column_edges_per_event: int = 10_000
    strict_profile: bool = False


# The outcome types are NamedTuples: they cross a process boundary when
# classification runs in a helper process, and tuples pickle several times
# faster than dataclasses.


RANK_HASH_CHARS = 32


class NodeUpdate(NamedTuple):
    """What an accepted event says about one dataset."""

    node_id: str
    namespace: str
    name: str
    internal: bool
    type: str | None  # facets.datasetType.datasetType, when the event carries one


class FoldEvent(NamedTuple):
    """An accepted event reduced to what the graph fold needs."""

    content_hash: str
    event_time: str  # normalised, fixed width: string order is time order
    run_id: str | None  # lowercase
    job: tuple[str, str]
    nodes: tuple[NodeUpdate, ...]
    edges: tuple[tuple[str, str], ...]  # (source node id, target node id)
    # Column lineage (docs/design.md section 5a): the column edges, and the
    # (node id, namespace, name) of the datasets they name.
    columns: Sequence[ColumnFact] = ()  # core.columns.ColumnEdges from extraction
    column_datasets: tuple[tuple[str, str, str], ...] = ()

    @property
    def rank(self) -> str:
        """(eventTime, content hash) as one string: the order of "newest".

        128 bits of the hash break ties as well as all 256 (two events that
        share them are one event), and keep the rank at 59 characters: under
        the 64 bytes up to which Redis stores a hash in its compact encoding.
        """
        return self.event_time + self.content_hash[:RANK_HASH_CHARS]


class _Output(NamedTuple):
    """An output as ``extract_columns`` reads it (``core.models.Dataset``'s fields)."""

    namespace: str
    name: str
    facets: dict[str, Any] | None


class Rejected(NamedTuple):
    """Dead-lettered with ``reason``; before step 4 it is never deduplicated."""

    reason: str
    error: str


class Ignored(NamedTuple):
    """A valid event that is not a COMPLETE RunEvent."""

    event_type: str


class Accepted(NamedTuple):
    """A COMPLETE event that contributes edges, and the candidates it skipped."""

    fold: FoldEvent
    skipped: tuple[tuple[str, int], ...] = ()
    column_dropped: tuple[tuple[str, int], ...] = ()  # column edges not folded, by reason


class Classified(NamedTuple):
    """A valid message: its outcome holds unless its content hash was seen."""

    content_hash: str
    outcome: Ignored | Rejected | Accepted


# One object per distinct node update: a batch's results then pickle each
# dataset once (pickle's memo), the largest part of what a helper process
# sends back. The values are immutable, so sharing them changes nothing.
# 2,048: the benchmark mix's hit rate (92%) is the same as at 8,192.
_node_update = lru_cache(maxsize=2048)(NodeUpdate)


def classify(
    raw: bytes | None, rule: MixRule, limits: Limits, *, quick: bool = True
) -> Rejected | Classified:
    """Run steps 1-3 and 5-7 of docs/design.md section 3 on one message value.

    ``quick``: read the events that plainly fit the models without building
    them (``core.plain_event``); the outcome is the same either way."""
    try:
        return _classify(raw, rule, limits, quick)
    except InvalidMessage as exc:
        return Rejected(str(exc.reason), exc.error)
    except Exception as exc:  # a bug must not stop the partition behind one message
        return Rejected(Reason.INTERNAL_ERROR.value, f"{type(exc).__name__}: {exc}")


def _classify(
    raw: bytes | None, rule: MixRule, limits: Limits, quick: bool
) -> Rejected | Classified:
    if raw is not None and len(raw) > limits.max_event_bytes:
        return Rejected(
            Reason.TOO_LARGE.value,
            f"{len(raw)} bytes is more than the limit of {limits.max_event_bytes}",
        )
    obj = decode_object(raw, limits.max_depth)
    plain = read_plain(obj, limits.strict_profile) if quick else None
    if plain is not None:
        digest = content_hash(obj)
        if plain.event_type != "COMPLETE":
            return new_tuple(Classified, (digest, new_tuple(Ignored, (plain.event_type,))))
        run_id = plain.run_id.lower() if plain.run_id else None
        try:
            accepted = _accept(
                plain.event_time,
                run_id,
                plain.job,
                plain.inputs,
                plain.outputs,
                digest,
                rule,
                limits,
            )
        except InvalidMessage as exc:
            return Classified(digest, Rejected(str(exc.reason), exc.error))
        return new_tuple(Classified, (digest, accepted))
    event = validate_event(obj, strict_profile=limits.strict_profile)
    digest = content_hash(obj)
    if isinstance(event, DatasetEvent):
        return Classified(digest, Ignored(DATASET_EVENT))
    if isinstance(event, JobEvent):
        return Classified(digest, Ignored(JOB_EVENT))
    if event.eventType != "COMPLETE":
        return Classified(digest, Ignored(event.eventType))
    try:
        return Classified(digest, accept(event, digest, rule, limits))
    except InvalidMessage as exc:
        return Classified(digest, Rejected(str(exc.reason), exc.error))


def accept(event: RunEvent, digest: str, rule: MixRule, limits: Limits) -> Accepted:
    """Steps 6 and 7 for a valid COMPLETE RunEvent (6 includes the cap on
    candidate edges, ``too_many_edges``); raises ``InvalidMessage``."""
    run = event.run
    run_id = run.runId.lower() if run is not None and run.runId else None
    job = (event.job.namespace, event.job.name)
    inputs = [(d.namespace, d.name, d.facets) for d in event.inputs or ()]
    outputs = [(d.namespace, d.name, d.facets) for d in event.outputs or ()]
    return _accept(event.eventTime, run_id, job, inputs, outputs, digest, rule, limits)


def _accept(
    event_time: str,
    run_id: str | None,
    job: tuple[str, str],
    inputs: list[PlainDataset],
    outputs: list[PlainDataset],
    digest: str,
    rule: MixRule,
    limits: Limits,
) -> Accepted:
    """``accept`` on an event's fields, its datasets as (namespace, name, facets)."""
    plan = plan_event(
        tuple([(d[0], d[1]) for d in inputs]),
        tuple([(d[0], d[1]) for d in outputs]),
        rule,
        limits.max_name_length,
        limits.max_edges_per_event,
    )
    # The type a dataset carries in this event; outputs win over inputs, the
    # last mention over earlier ones, so one event always gives one answer.
    types: dict[DatasetKey, str] = {}
    for namespace, name, facets in (*inputs, *outputs):
        if facets:
            found = dataset_type(facets)
            if found is not None:
                types[(namespace, name)] = found
    ids = plan.ids
    if types and not types.keys() <= ids.keys():
        ids = dict(ids)  # the plan's own is shared with other events
        for key in types:
            if key not in ids:
                ids[key] = node_id(*key)
    is_internal = rule.is_internal
    get_type = types.get
    nodes = tuple(
        [
            _node_update(nid, key[0], key[1], is_internal(key[0]), get_type(key))
            for key, nid in ids.items()
        ]
    )
    # Only outputs with a columnLineage facet give column edges (the
    # extraction skips the others), so only they are made its dataset objects.
    lineage = [_Output(*d) for d in outputs if d[2] and "columnLineage" in d[2]]
    columns = NO_COLUMNS
    if lineage:
        columns = extract_columns(
            lineage,
            is_internal,
            rule.mode is MixMode.MIXED,
            limits.max_name_length,
            limits.max_column_edges_per_event,
        )
    fold = new_tuple(
        FoldEvent,
        (digest, event_time, run_id, job, nodes, plan.edges, columns.facts, columns.datasets),
    )
    return new_tuple(Accepted, (fold, plan.skipped, columns.dropped))
