"""The indented tree that the lineage commands print, for datasets and columns alike."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

N = TypeVar("N", bound=Hashable)
E = TypeVar("E")


def tree_lines(
    roots: Iterable[N],
    children: Mapping[N, Sequence[tuple[N, E]]],
    *,
    arrow: str,
    label: Callable[[N], str],
    describe: Callable[[E], str],
    order: Callable[[N], Any],
) -> list[str]:
    """Each root and what it reaches, indented, children sorted by ``order``,
    each line with its edge's ``describe`` in brackets; a node reached twice is
    shown once in full and then as ``(see above)``, so a cycle ends."""
    lines: list[str] = []
    shown: set[N] = set()

    def walk(node: N, indent: str) -> None:
        kids = sorted(children.get(node, []), key=lambda item: order(item[0]))
        for i, (child, edge) in enumerate(kids):
            last = i == len(kids) - 1
            again = " (see above)" if child in shown else ""
            lines.append(
                f"{indent}{'└─' if last else '├─'}{arrow} {label(child)}  [{describe(edge)}]{again}"
            )
            if not again:
                shown.add(child)
                walk(child, indent + ("   " if last else "│  "))

    for root in roots:
        lines.append(label(root))
        shown.add(root)
        walk(root, "")
    return lines
