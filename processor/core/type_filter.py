"""Type filters of the lineage answers (docs/design.md section 5b).

``types=MODEL,FEATURE_VIEW`` selects which datasets an answer lists, by their
snapshot ``type`` (``core.snapshot.node_type``: the newest ``datasetType``, else
the side's default), compared as exact strings. The filter is applied to the
answer of a walk, never to the walk itself: "every MODEL downstream of this
table" is the downstream closure, then filtered, so a model reached only
through a feature view and a training set is listed, at its own distance in
the whole graph. The node cap and ``truncated`` are the walk's.

What a filtered answer keeps:

- a lineage answer (upstream, downstream, Marquez): its roots (distance 0),
  whatever their type, since they are what was asked about, and the other
  datasets of the listed types; an edge only when both its ends are kept;
- an impact answer: the datasets of the listed types (the root is never
  listed there anyway).
"""

from __future__ import annotations

from processor.core.query_results import ImpactResult, LineageResult, QueryNode

# Distinct types one filter may name: far above the types a graph uses, and a
# bound on the work of parsing a request.
MAX_TYPES = 100

TypeFilter = frozenset[str]


def parse_types(raw: str) -> TypeFilter:
    """The types of a ``types`` parameter (comma separated, exact strings); a
    ``ValueError`` for an empty value, an empty entry (``MODEL,`` or ``,,``) or
    more than ``MAX_TYPES`` entries."""
    if raw == "":
        raise ValueError("types must name at least one type (T1,T2,...), got an empty value")
    parts = raw.split(",")
    if any(part == "" for part in parts):
        raise ValueError(f"types must be comma separated non-empty type names, got {raw!r}")
    types = frozenset(parts)
    if len(types) > MAX_TYPES:
        raise ValueError(f"types may name at most {MAX_TYPES} types, got {len(types)}")
    return types


def listed(node: QueryNode, types: TypeFilter) -> bool:
    """Whether a filtered lineage answer lists ``node``: a root always."""
    return node.distance == 0 or node.type in types


def filter_lineage(result: LineageResult, types: TypeFilter) -> LineageResult:
    """``result`` with only its roots and the datasets of ``types``, and the
    edges between those."""
    nodes = tuple(n for n in result.nodes if listed(n, types))
    kept = {(n.namespace, n.name) for n in nodes}
    edges = tuple(e for e in result.edges if e.source in kept and e.target in kept)
    return LineageResult(result.root, nodes, edges, result.depth, result.truncated)


def filter_impact(result: ImpactResult, types: TypeFilter) -> ImpactResult:
    """``result`` with only the datasets of ``types``, each at its distance."""
    datasets = tuple(n for n in result.datasets if n.type in types)
    return ImpactResult(result.root, datasets, result.depth, result.truncated)
