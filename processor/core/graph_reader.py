"""The read port of the lineage queries: what they need from a graph store.

``core.queries`` walks the graph through :class:`GraphReader`; the Redis
adapter (``adapters.redis_reader``) and the tests' in-memory readers implement
it. :data:`Direction` is the one name of a walk's direction, from the reader
port to the JSON answers of the HTTP API and the CLI.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Literal, NamedTuple, Protocol

from processor.core.query_results import Dataset, QueryEdge, QueryNode, query_edge, query_node
from processor.core.snapshot import EdgeRecord, NodeRecord

__all__ = ["Dataset", "Direction", "GraphReader", "Level", "Pair", "Walk", "walk_levels"]

Direction = Literal["upstream", "downstream"]
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


class Walk(NamedTuple):
    """A whole breadth-first walk from some roots, as read from the store.

    ``nodes``: the answer's nodes that the walk added (the roots not among
    them, in no order), with their hops from the nearest root. ``edges``: the
    answer's edges (in no order): those met while expanding a node closer
    than the depth whose two ends are both in the result, in their stored
    direction. ``truncated``: a level had more new neighbours than the cap
    left room for (the walk stopped there).
    """

    nodes: Sequence[QueryNode]
    edges: Sequence[QueryEdge]
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

    async def walk(
        self, roots: Mapping[str, NodeRecord], direction: Direction, depth: int, max_nodes: int
    ) -> Walk:
        """Breadth-first from ``roots`` (node id -> record, distance 0) up to
        ``depth`` levels and ``max_nodes`` nodes, roots included: the result
        of :func:`walk_levels`, which a reader may compute in fewer round
        trips."""
        ...

    async def edges(self, pairs: Sequence[Pair]) -> Mapping[Pair, EdgeRecord]:
        """The records of the given (source id, target id) edges, in one batched
        read; an edge that no longer exists is left out."""
        ...

    async def job_edges(self, namespace: str, name: str) -> Sequence[Pair]:
        """Every edge that carries the job, as (source id, target id), visible
        or not (the queries check visibility through ``expand``)."""
        ...


async def walk_levels(
    reader: GraphReader,
    roots: Mapping[str, NodeRecord],
    direction: Direction,
    depth: int,
    max_nodes: int,
) -> Walk:
    """:meth:`GraphReader.walk` with one ``expand`` per level and one ``edges``
    at the end: each level's new neighbours are cut to the room left under
    ``max_nodes`` (in node id order), and the walk stops at the first cut."""
    known: dict[str, None] = dict.fromkeys(roots)
    nodes: dict[str, NodeRecord] = {}
    distance: dict[str, int] = {}
    met: dict[Pair, None] = {}  # edges met, (source id, target id), in order
    truncated = False
    frontier = sorted(roots)
    level = 0
    while frontier and level < depth and not truncated:
        got = await reader.expand(frontier, direction, known.keys(), max_nodes - len(known))
        level += 1
        for nid in frontier:
            for other in got.links.get(nid, ()):
                if other in known or other in got.nodes:
                    met[(nid, other) if direction == "downstream" else (other, nid)] = None
        added = [nid for nid in got.nodes if nid not in known]
        for nid in added:
            known[nid] = None
            nodes[nid] = got.nodes[nid]
            distance[nid] = level
        frontier = sorted(added)
        truncated = got.truncated
    found = await reader.edges(list(met))
    records = {**roots, **nodes}
    edges = [query_edge(found[pair], records) for pair in met if pair in found]
    answer = [query_node(nid, rec, distance[nid]) for nid, rec in nodes.items()]
    return Walk(answer, edges, truncated)
