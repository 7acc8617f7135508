"""Column query results for people and tools: a readable tree or Graphviz dot
(the JSON shape is ``ColumnLineage.as_json``)."""

from __future__ import annotations

import json
from collections import defaultdict

from processor.core.column_queries import Column, ColumnLineage, column_order
from processor.core.column_snapshot import ColumnEdgeRecord
from processor.text_tree import tree_lines


def column_label(c: Column) -> str:
    """``namespace/name.field``, or ``namespace/name (whole dataset)``."""
    return f"{c[0]}/{c[1]}." + c[2] if c[2] is not None else f"{c[0]}/{c[1]} (whole dataset)"


def transformation_badges(e: ColumnEdgeRecord) -> str:
    """``DIRECT/IDENTITY, INDIRECT/JOIN, DIRECT/TRANSFORMATION masked``."""
    parts = []
    for kind, subtype, masking in sorted(e.transformations):
        text = f"{kind}/{subtype}" if subtype else kind
        parts.append(text + (" masked" if masking else ""))
    return ", ".join(parts) or "no transformation given"


def _describe(edge: ColumnEdgeRecord) -> str:
    jobs = ", ".join(f"{ns}/{nm}" for ns, nm in sorted(edge.jobs))
    return f"{transformation_badges(edge)}; {jobs}; last {edge.last_seen}"


def column_tree(result: ColumnLineage) -> str:
    """Each root and what it reaches, indented; a column reached twice is
    shown once in full and then as ``(see above)``."""
    upstream = result.direction == "upstream"
    children: dict[Column, list[tuple[Column, ColumnEdgeRecord]]] = defaultdict(list)
    for e in result.edges:
        parent, child = (e.target, e.source) if upstream else (e.source, e.target)
        children[parent].append((child, e))
    arrow = "<-" if upstream else "->"
    lines = tree_lines(
        result.roots,
        children,
        arrow=arrow,
        label=column_label,
        describe=_describe,
        order=column_order,
    )
    if result.truncated:
        lines.append(f"(truncated: more than {len(result.columns)} columns; narrow the depth)")
    return "\n".join(lines)


def column_dot(result: ColumnLineage) -> str:
    """Graphviz dot, left to right, one cluster per dataset; INDIRECT-only
    edges dashed, masking ones red."""
    out = ["digraph columns {", "  rankdir=LR;", "  node [shape=box];"]
    datasets: dict[tuple[str, str], list[tuple[Column, int]]] = defaultdict(list)
    for c, d in result.columns:
        datasets[(c[0], c[1])].append((c, d))
    for i, ((ns, name), cols) in enumerate(sorted(datasets.items())):
        out.append(f"  subgraph cluster_{i} {{ label={json.dumps(f'{ns}/{name}')};")
        for c, d in cols:
            root = ", penwidth=2" if d == 0 else ""
            label = json.dumps(c[2] if c[2] is not None else "(whole dataset)")
            out.append(f"    {json.dumps(column_label(c))} [label={label}{root}];")
        out.append("  }")
    for e in result.edges:
        kinds = {k for k, _, _ in e.transformations}
        style = ", style=dashed" if kinds == {"INDIRECT"} else ""
        color = ", color=red" if any(m for _, _, m in e.transformations) else ""
        out.append(
            f"  {json.dumps(column_label(e.source))} -> {json.dumps(column_label(e.target))} "
            f"[label={json.dumps(transformation_badges(e))}{style}{color}];"
        )
    out.append("}")
    return "\n".join(out)
