"""The read port of the lineage queries: what they need from a graph store.

``core.queries`` walks the graph through :class:`GraphReader`; the Redis
adapter (``adapters.redis_reader``) and the tests' in-memory readers implement
it. :data:`Direction` is the one name of a walk's direction, from the reader
port to the JSON answers of the HTTP API and the CLI.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Literal, NamedTuple, Protocol

from processor.core.snapshot import EdgeRecord, NodeRecord

Direction = Literal["upstream", "downstream"]
Dataset = tuple[str, str]  # (namespace, name)
Pair = tuple[str, str]  # (source node id, target node id)


class Level(NamedTuple):
    """One breadth-first level as read from the store.

    ``links``: per frontier node id, the ids at the other end of its visible
    edges in the asked direction (``downstream``: targets of edges out of it;
    ``upstream``: sources of edges into it), limited to ids that are known or kept. ``nodes``:
    the records of the kept new neighbours: those not known, in node id order,
    at most ``room`` of them. ``truncated``: more new neighbours were visible.
    """

    links: Mapping[str, Sequence[str]]
    nodes: Mapping[str, NodeRecord]
    truncated: bool


class GraphReader(Protocol):
    """What the queries need from a graph store.

    Visibility is the reader's: it leaves out edges that a delete hides
    (``EdgeRecord.visible``) and any it is configured to hide (retention).
    """

    async def resolve(self, namespace: str, name: str) -> NodeRecord | None:
        """The record of one dataset, or None when the graph does not hold it."""
        ...

    async def expand(
        self, node_ids: Sequence[str], direction: Direction, known: Collection[str], room: int
    ) -> Level:
        """The visible neighbours of every node of ``node_ids``, in one batched
        read; new ones (not in ``known``) cut to the first ``room`` by node id."""
        ...

    async def edges(self, pairs: Sequence[Pair]) -> Mapping[Pair, EdgeRecord]:
        """The records of the given (source id, target id) edges, in one batched
        read; an edge that no longer exists is left out."""
        ...

    async def job_edges(self, namespace: str, name: str) -> Sequence[Pair]:
        """Every edge that carries the job, as (source id, target id), visible
        or not (the queries check visibility through ``expand``)."""
        ...
