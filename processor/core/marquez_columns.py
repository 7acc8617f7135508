"""Marquez-compatible column lineage (``GET /api/v1/column-lineage``), pure parts.

Marquez answers ``{"graph": [node, ...]}`` where each node is a dataset field:
id ``datasetField:{namespace}:{name}:{field}``, type ``DATASET_FIELD``, data
``{namespace, dataset, datasetVersion, field, fieldType,
transformationDescription, transformationType, inputFields: [...]}``, and
edges as Marquez builds them in its ``ColumnLineageService``: an ``outEdges``
link goes ``{origin: input, destination: output}`` and an ``inEdges`` link
``{origin: the node itself, destination: its input}``. Each input field also
carries the full ``transformations`` list (type, subtype, masking), which
Marquez drops. Marquez has no node for a whole-dataset dependency, so edges
whose target is the dataset as a whole (``field`` null) are left out here; our
own column queries keep them.

The deprecated ``transformationType`` is derived: ``MASKED`` when a
transformation masks, else ``IDENTITY`` when one is (DIRECT, IDENTITY) or the
legacy IDENTITY, else null.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from processor.core.column_queries import Column, ColumnLineage, column_order
from processor.core.column_snapshot import ColumnEdgeRecord, transformation_dicts
from processor.core.marquez import parse_node_id

# As in Marquez's NodeId: a colon not followed by "//" nor a digit separates.
_SEPARATOR = re.compile(r":(?!//|\d)")


class ColumnNodeRef(NamedTuple):
    """A parsed column node id; ``field`` None for ``dataset:{ns}:{name}``."""

    namespace: str
    name: str
    field: str | None


def field_node_id(c: Column) -> str:
    """``datasetField:{namespace}:{name}:{field}``."""
    return f"datasetField:{c[0]}:{c[1]}:{c[2]}"


def parse_column_node_id(value: str) -> ColumnNodeRef:
    """``datasetField:{ns}:{name}:{field}`` or ``dataset:{ns}:{name}`` (every
    column of the dataset); ``ValueError`` otherwise. The first of
    ``column_node_candidates``: Marquez's reading."""
    return column_node_candidates(value)[0]


def column_node_candidates(value: str) -> list[ColumnNodeRef]:
    """Every reading of a column node id, Marquez's first.

    Marquez (``NodeId.asDatasetFieldId``) splits at the first three colons not
    followed by ``//`` nor a digit, so the namespace may hold ``scheme://`` and
    ``host:port`` and the field gets everything after the third, colons
    included. When the name holds a colon too the id is ambiguous; the other
    readings (every later colon as the name/field boundary, left to right)
    let the caller pick the one whose dataset has that field. When no colon
    after the name qualifies (a field starting with a digit), the last colon
    splits, where Marquez would fail."""
    prefix = "datasetField:"
    if value.startswith("dataset:"):
        ref = parse_node_id(value)
        return [ColumnNodeRef(ref.namespace, ref.name, None)]
    if not value.startswith(prefix):
        raise ValueError(f"node id must start with 'datasetField:' or 'dataset:', got {value!r}")
    body = value[len(prefix) :]
    shape = f"node id must be 'datasetField:{{namespace}}:{{name}}:{{field}}', got {value!r}"
    match = _SEPARATOR.search(body)
    if match is None:  # every colon looks like part of a URI: the last two split
        head, _, fld = body.rpartition(":")
        ns, _, rest = head.rpartition(":")
        if not ns or not rest or not fld:
            raise ValueError(shape)
        return [ColumnNodeRef(ns, rest, fld)]
    ns, rest = body[: match.start()], body[match.end() :]
    cuts = [i for i, ch in enumerate(rest) if ch == ":" and 0 < i < len(rest) - 1]
    if not ns or not cuts:
        raise ValueError(shape)
    first = _SEPARATOR.search(rest)
    marquez = first.start() if first is not None and first.start() in cuts else cuts[-1]
    order = [marquez] + [i for i in cuts if i != marquez]
    return [ColumnNodeRef(ns, rest[:i], rest[i + 1 :]) for i in order]


def legacy_type(e: ColumnEdgeRecord) -> str | None:
    """The deprecated single ``transformationType`` Marquez shows (module doc)."""
    if any(m for _, _, m in e.transformations):
        return "MASKED"
    for kind, subtype, _ in e.transformations:
        if (kind, subtype) in (("DIRECT", "IDENTITY"), ("IDENTITY", "")):
            return "IDENTITY"
    return None


def column_lineage_graph(*results: ColumnLineage) -> list[dict[str, Any]]:
    """The Marquez ``graph`` of the union of ``results`` (upstream, and
    downstream when asked)."""
    columns: set[Column] = set()
    edges: dict[tuple[Column, Column], ColumnEdgeRecord] = {}
    for r in results:
        columns.update(c for c, _ in r.columns if c[2] is not None)
        for e in r.edges:
            if e.target[2] is not None:
                edges.setdefault((e.source, e.target), e)
    inputs: dict[Column, list[ColumnEdgeRecord]] = {}
    ins: dict[Column, list[dict[str, str]]] = {}
    outs: dict[Column, list[dict[str, str]]] = {}
    for (src, dst), e in sorted(edges.items(), key=lambda kv: (kv[0][0], column_order(kv[0][1]))):
        inputs.setdefault(dst, []).append(e)
        sid, did = field_node_id(src), field_node_id(dst)
        outs.setdefault(src, []).append({"origin": sid, "destination": did})
        ins.setdefault(dst, []).append({"origin": did, "destination": sid})
    graph = []
    for c in columns:
        graph.append(
            {
                "id": field_node_id(c),
                "type": "DATASET_FIELD",
                "data": {
                    "type": "DATASET_FIELD",
                    "namespace": c[0],
                    "dataset": c[1],
                    "datasetVersion": None,
                    "field": c[2],
                    "fieldType": None,
                    "transformationDescription": None,
                    "transformationType": None,
                    "inputFields": [_input(e) for e in inputs.get(c, [])],
                },
                "inEdges": ins.get(c, []),
                "outEdges": outs.get(c, []),
            }
        )
    graph.sort(key=lambda n: str(n["id"]))
    return graph


def _input(e: ColumnEdgeRecord) -> dict[str, Any]:
    ns, name, field = e.source
    return {
        "namespace": ns,
        "dataset": name,
        "datasetVersion": None,
        "field": field,
        "transformationDescription": None,
        "transformationType": legacy_type(e),
        "transformations": transformation_dicts(e.transformations),
    }
