"""The readable difference between two canonical snapshots (``rebuild --verify``)."""

from __future__ import annotations

from typing import Any


def first_differences(
    current: dict[str, Any], rebuilt: dict[str, Any], limit: int = 10
) -> list[str]:
    """The first nodes and edges that differ between two snapshots, readable."""

    def node_key(n: dict[str, Any]) -> tuple[str, str]:
        return (n["namespace"], n["name"])

    def edge_key(e: dict[str, Any]) -> tuple[str, str, str, str]:
        return (
            e["source"]["namespace"],
            e["source"]["name"],
            e["target"]["namespace"],
            e["target"]["name"],
        )

    out: list[str] = []
    for kind, key in (("node", node_key), ("edge", edge_key)):
        a = {key(x): x for x in current[f"{kind}s"]}
        b = {key(x): x for x in rebuilt[f"{kind}s"]}
        for k in sorted(a.keys() | b.keys()):
            name = " -> ".join("/".join(k[i : i + 2]) for i in range(0, len(k), 2))
            if k not in b:
                out.append(f"{kind} {name}: only in the current generation")
            elif k not in a:
                out.append(f"{kind} {name}: only in the rebuilt generation")
            elif a[k] != b[k]:
                fields = sorted(f for f in a[k] if a[k][f] != b[k].get(f))
                changes = ", ".join(f"{f} {a[k][f]!r} -> {b[k][f]!r}" for f in fields)
                out.append(f"{kind} {name}: {changes}")
            if len(out) >= limit:
                return out
    return out
