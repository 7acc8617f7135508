"""Lineage queries over the graph: upstream, downstream, impact and paths.

Pure functions over a small read port, :class:`GraphReader` (in
``core.graph_reader``), answering the shapes of ``core.query_results``. A
lineage walk (upstream, downstream, impact, a job's lineage) is one call of
:meth:`GraphReader.walk`, whose rules are ``core.graph_reader.walk_levels``: a
breadth-first search that asks for one whole level at a time
(:meth:`GraphReader.expand` with every node of the frontier, which returns
neighbour ids and records but no edge attributes), then, once the node set is
final, for the attributes of the kept edges (:meth:`GraphReader.edges`); it
never reads an edge the node cap cut away. The Redis adapter
(``adapters.redis_reader``) runs a whole walk in one round trip. Path queries
expand level by level themselves, to stop at the target's level.

Conventions shared by every query:

- ``depth`` is the number of hops from the root, ``1 <= depth <= depth_cap``
  (``DEPTH_CAP`` unless the caller passes the configured cap); anything else is
  a ``ValueError``. An unknown root raises :class:`processor.errors.NodeNotFound`.
- ``max_nodes`` caps the nodes of a result. Nodes are taken level by level,
  each level in node id order, so a truncated result is exactly the first
  ``max_nodes`` nodes of the untruncated one in (distance, node id) order; it
  is marked ``truncated=True`` and the traversal stops there. Ids, not names,
  order the cut because the reader knows them before it reads any record: the
  records of cut nodes are never read. Ids are hashes, so what a cut keeps is
  a stable sample of the level, favouring no name.
- Edges are those met while expanding a node closer than ``depth`` whose two
  ends are both in the result, in their stored direction (source → target)
  whichever way the query walks.
- ``types`` (upstream, downstream, impact, job lineage) filters the answer
  after the walk (``core.type_filter``): the walk, its cap and its distances
  are those of the unfiltered query.
- Output order is deterministic: nodes by (distance, namespace, name), edges by
  (source, target), jobs by (namespace, name). Cycles terminate: every node is
  expanded at most once, at its shortest distance.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from operator import attrgetter

from processor.core.api_bounds import (
    DEFAULT_DEPTH,
    DEFAULT_MAX_NODES,
    DEFAULT_MAX_PATHS,
    DEPTH_CAP,
)
from processor.core.graph_reader import Dataset, Direction, GraphReader, Pair
from processor.core.identity import node_id
from processor.core.query_results import (
    ImpactResult,
    JobLineage,
    LineageResult,
    PathsResult,
    QueryEdge,
    query_edge,
    query_node,
)
from processor.core.snapshot import NodeRecord
from processor.core.type_filter import TypeFilter, filter_impact, filter_lineage
from processor.errors import NodeNotFound

_EVERY = 1 << 30  # room for every neighbour: no cut


def check_depth(depth: int, depth_cap: int = DEPTH_CAP) -> int:
    """``depth`` if it is within 1..depth_cap, else a ``ValueError``."""
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= depth_cap:
        raise ValueError(f"depth must be an integer from 1 to {depth_cap}, got {depth!r}")
    return depth


def _check_positive(label: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{label} must be a positive integer, got {value!r}")


async def lineage(
    direction: Direction,
    reader: GraphReader,
    namespace: str,
    name: str,
    depth: int = DEFAULT_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
    *,
    depth_cap: int = DEPTH_CAP,
    types: TypeFilter | None = None,
) -> LineageResult:
    """The datasets ``namespace``/``name`` is derived from (``upstream``) or
    that are derived from it (``downstream``), up to ``depth`` hops."""
    result = await _lineage(reader, (namespace, name), direction, depth, max_nodes, depth_cap)
    return result if types is None else filter_lineage(result, types)


upstream = partial(lineage, "upstream")
downstream = partial(lineage, "downstream")


async def impact(
    reader: GraphReader,
    namespace: str,
    name: str,
    depth: int = DEFAULT_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
    *,
    depth_cap: int = DEPTH_CAP,
    types: TypeFilter | None = None,
) -> ImpactResult:
    """Every dataset downstream of the root with its shortest distance, sorted
    by (distance, namespace, name). ``max_nodes`` counts these datasets (not
    the root); the root is never listed, even when a cycle leads back to it.
    ``types`` (``core.type_filter``) lists only the datasets of those types; the
    cap still counts every dataset the walk passes through."""
    _check_positive("max_nodes", max_nodes)
    result = await _lineage(
        reader, (namespace, name), "downstream", depth, max_nodes + 1, depth_cap
    )
    found = ImpactResult(
        root=result.root,
        datasets=tuple(n for n in result.nodes if n.distance > 0),
        depth=result.depth,
        truncated=result.truncated,
    )
    return found if types is None else filter_impact(found, types)


async def paths(
    reader: GraphReader,
    src: Dataset,
    dst: Dataset,
    max_depth: int = DEFAULT_DEPTH,
    max_paths: int = DEFAULT_MAX_PATHS,
    *,
    max_nodes: int = DEFAULT_MAX_NODES,
    depth_cap: int = DEPTH_CAP,
) -> PathsResult:
    """Every shortest downstream path from ``src`` to ``dst`` (up to
    ``max_paths``, in order of their datasets' (namespace, name) sequence).

    ``src == dst`` gives one empty path at distance 0. ``max_nodes`` bounds the
    datasets the search may visit.
    """
    check_depth(max_depth, depth_cap)
    _check_positive("max_paths", max_paths)
    _check_positive("max_nodes", max_nodes)
    src_id, src_rec = await _resolve(reader, src)
    dst_id, _ = await _resolve(reader, dst)
    if src_id == dst_id:
        return PathsResult(src, dst, 0, ((),), False)

    records: dict[str, NodeRecord] = {src_id: src_rec}
    parents: dict[str, list[str]] = {}  # node -> its neighbours in the level before
    frontier = [src_id]
    level = 0
    while frontier and level < max_depth:
        # One node over the cap tells that the search had to stop.
        got = await reader.expand(
            frontier, "downstream", records.keys(), max_nodes + 1 - len(records)
        )
        level += 1
        new: dict[str, NodeRecord] = {}
        for nid in frontier:
            for tid in got.links.get(nid, ()):
                if tid in records:
                    continue  # reached at a shorter distance
                rec = new.get(tid) or got.nodes.get(tid)
                if rec is None:
                    continue
                new[tid] = rec
                parents.setdefault(tid, []).append(nid)
        records.update(new)
        if dst_id in new:
            trails = _shortest_paths(src_id, dst_id, parents, records, max_paths)
            found = await _path_edges(reader, trails, records)
            return PathsResult(src, dst, level, found[:max_paths], len(found) > max_paths)
        if got.truncated or len(records) > max_nodes:
            return PathsResult(src, dst, None, (), True)
        frontier = sorted(new)
    return PathsResult(src, dst, None, (), False)


async def _resolve(reader: GraphReader, key: Dataset) -> tuple[str, NodeRecord]:
    rec = await reader.resolve(*key)
    if rec is None:
        raise NodeNotFound(*key)
    return node_id(*key), rec


async def _lineage(
    reader: GraphReader,
    root: Dataset,
    direction: Direction,
    depth: int,
    max_nodes: int,
    depth_cap: int,
) -> LineageResult:
    check_depth(depth, depth_cap)
    _check_positive("max_nodes", max_nodes)
    root_id, root_rec = await _resolve(reader, root)
    return await _walk(reader, {root_id: root_rec}, direction, depth, max_nodes)


async def _walk(
    reader: GraphReader,
    roots: Mapping[str, NodeRecord],
    direction: Direction,
    depth: int,
    max_nodes: int,
) -> LineageResult:
    """Breadth-first from every root at once (all at distance 0); the result's
    ``root`` is the first of them in (namespace, name) order."""
    walked = await reader.walk(roots, direction, depth, max_nodes)
    nodes = [query_node(nid, rec, 0) for nid, rec in roots.items()]
    nodes.extend(walked.nodes)
    nodes.sort(key=attrgetter("distance", "namespace", "name"))
    # (source, target) leads each edge's tuple and differs between edges.
    edges = sorted(walked.edges)
    return LineageResult(nodes[0], tuple(nodes), tuple(edges), depth, walked.truncated)


async def job_lineage(
    reader: GraphReader,
    namespace: str,
    name: str,
    depth: int = DEFAULT_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
    *,
    depth_cap: int = DEPTH_CAP,
    types: TypeFilter | None = None,
) -> JobLineage:
    """Everything upstream of a job's inputs and downstream of its outputs, up
    to ``depth`` hops from them, with the job's own edges; each walk is capped
    at ``max_nodes``. ``NodeNotFound`` (kind ``job``) when no visible edge of
    the graph carries the job."""
    check_depth(depth, depth_cap)
    _check_positive("max_nodes", max_nodes)
    pairs = list(dict.fromkeys(await reader.job_edges(namespace, name)))
    if pairs:
        # Two expansions give the endpoints' records and say which of the
        # job's edges are visible.
        sources, targets = sorted({s for s, _ in pairs}), sorted({t for _, t in pairs})
        outs = await reader.expand(sources, "downstream", (), _EVERY)
        ins = await reader.expand(targets, "upstream", (), _EVERY)
        pairs = [
            (s, t)
            for s, t in pairs
            if t in outs.links.get(s, ()) and s in ins.nodes and t in outs.nodes
        ]
    edge_records = await reader.edges(pairs) if pairs else {}
    pairs = [p for p in pairs if p in edge_records]
    if not pairs:
        raise NodeNotFound(namespace, name, "job")
    inputs = {s: ins.nodes[s] for s, _ in pairs}
    outputs = {t: outs.nodes[t] for _, t in pairs}
    ends = {**inputs, **outputs}
    own_nodes = sorted(
        (query_node(nid, rec, 0) for nid, rec in ends.items()),
        key=lambda n: (n.namespace, n.name),
    )
    own_edges = sorted(
        (query_edge(edge_records[p], ends) for p in pairs), key=lambda e: (e.source, e.target)
    )
    own = LineageResult(own_nodes[0], tuple(own_nodes), tuple(own_edges), depth, False)
    up = await _walk(reader, inputs, "upstream", depth, max_nodes)
    down = await _walk(reader, outputs, "downstream", depth, max_nodes)
    if types is not None:
        up, down = filter_lineage(up, types), filter_lineage(down, types)
    return JobLineage((namespace, name), own, up, down)


def _shortest_paths(
    src_id: str,
    dst_id: str,
    parents: Mapping[str, Sequence[str]],
    records: Mapping[str, NodeRecord],
    max_paths: int,
) -> list[list[Pair]]:
    """Up to ``max_paths + 1`` shortest paths as lists of (source id, target id)
    (one more than asked tells of truncation)."""
    # The nodes that lie on a shortest path to dst, and their steps forward.
    children: dict[str, list[str]] = {}
    on_path = {dst_id}
    stack = [dst_id]
    while stack:
        nid = stack.pop()
        for parent in parents.get(nid, ()):
            children.setdefault(parent, []).append(nid)
            if parent not in on_path:
                on_path.add(parent)
                stack.append(parent)
    for out in children.values():
        out.sort(key=lambda t: (records[t].namespace, records[t].name))

    def walk(nid: str, trail: list[Pair]) -> Iterator[list[Pair]]:
        if nid == dst_id:
            yield trail
            return
        for child in children.get(nid, ()):
            yield from walk(child, [*trail, (nid, child)])

    # Every branch of ``children`` ends at dst, so this stops after
    # max_paths + 1 paths, whatever their total number.
    found: list[list[Pair]] = []
    for trail in walk(src_id, []):
        found.append(trail)
        if len(found) > max_paths:
            break
    return found


async def _path_edges(
    reader: GraphReader, trails: Sequence[Sequence[Pair]], records: Mapping[str, NodeRecord]
) -> tuple[tuple[QueryEdge, ...], ...]:
    """The paths with their edges' attributes (one read for all of them); a path
    whose edge vanished since the traversal is dropped."""
    wanted = list(dict.fromkeys(pair for trail in trails for pair in trail))
    got = await reader.edges(wanted)
    return tuple(
        tuple(query_edge(got[pair], records) for pair in trail)
        for trail in trails
        if all(pair in got for pair in trail)
    )
