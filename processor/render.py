"""Query results for people and tools: a readable tree, JSON, or Graphviz dot."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from processor.core.graph_reader import Direction
from processor.core.query_results import ImpactResult, LineageResult, QueryEdge
from processor.text_tree import tree_lines

Dataset = tuple[str, str]


def lineage_json(result: LineageResult, direction: Direction) -> dict[str, Any]:
    """The JSON answer of a lineage query (also the HTTP API's shape)."""
    return {
        "root": result.root.as_json(),
        "direction": direction,
        "depth": result.depth,
        "nodes": [n.as_json() for n in result.nodes],
        "edges": [e.as_json() for e in result.edges],
        "truncated": result.truncated,
    }


def impact_json(result: ImpactResult) -> dict[str, Any]:
    """The JSON answer of an impact query (also the HTTP API's shape)."""
    return {
        "root": result.root.as_json(),
        "depth": result.depth,
        "nodes": [n.as_json() for n in result.datasets],
        "truncated": result.truncated,
    }


def _label(ds: Dataset) -> str:
    return f"{ds[0]}/{ds[1]}"


def _describe(edge: QueryEdge) -> str:
    jobs = ", ".join(f"{ns}/{nm}" for ns, nm in edge.jobs)
    return f"{jobs}; {edge.events} events; last {edge.last_seen}"


def _identity(ds: Dataset) -> Dataset:
    return ds


def lineage_tree(result: LineageResult, direction: Direction) -> str:
    """The result as an indented tree from the root; a dataset reached twice is
    shown once in full and then as ``(see above)``."""
    children: dict[Dataset, list[tuple[Dataset, QueryEdge]]] = defaultdict(list)
    for e in result.edges:
        parent, child = (e.source, e.target) if direction == "downstream" else (e.target, e.source)
        children[parent].append((child, e))
    arrow = "->" if direction == "downstream" else "<-"
    root: Dataset = (result.root.namespace, result.root.name)
    lines = tree_lines(
        [root], children, arrow=arrow, label=_label, describe=_describe, order=_identity
    )
    if result.truncated:
        lines.append(f"(truncated: more than {len(result.nodes)} datasets; narrow the depth)")
    return "\n".join(lines)


def impact_table(result: ImpactResult) -> str:
    """Every downstream dataset with its distance, one a line."""
    lines = [f"impact of {result.root.namespace}/{result.root.name} (depth {result.depth}):"]
    lines += [f"  {n.distance:>3}  {n.namespace}/{n.name}  ({n.type})" for n in result.datasets]
    if not result.datasets:
        lines.append("  (nothing downstream)")
    if result.truncated:
        lines.append(f"(truncated at {len(result.datasets)} datasets)")
    return "\n".join(lines)


def lineage_dot(result: LineageResult) -> str:
    """Graphviz dot, left to right; internal datasets filled."""
    out = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box];"]
    for n in result.nodes:
        style = ', style=filled, fillcolor="#cfe2ff"' if n.internal else ""
        root = ", penwidth=2" if n.distance == 0 else ""
        label = json.dumps("\n".join((n.name, n.namespace, n.type)))
        out.append(f"  {json.dumps(_label((n.namespace, n.name)))} [label={label}{style}{root}];")
    for e in result.edges:
        jobs = ", ".join(nm for _, nm in e.jobs)
        out.append(
            f"  {json.dumps(_label(e.source))} -> {json.dumps(_label(e.target))} "
            f"[label={json.dumps(jobs)}];"
        )
    out.append("}")
    return "\n".join(out)
