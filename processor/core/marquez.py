"""Marquez-compatible lineage (``GET /api/v1/lineage``), pure parts.

Marquez answers ``{"graph": [node, ...]}`` where a node is a dataset or a job
(``/work/shared/marquez-reference/lineage-node.json``) and every edge joins a
dataset and a job: ``dataset -> job -> dataset``. Our edges join two datasets
and carry the jobs that produced them, so each job of an edge becomes a JOB
node between its two datasets. A job is thereby linked to every input and every
output it has within the answer (Marquez's own job-level granularity); an edge
without jobs, which the fold never produces, would be kept as a direct
dataset -> dataset edge rather than dropped.

Node ids follow Marquez: ``dataset:{namespace}:{name}`` and
``job:{namespace}:{name}``. Namespaces often hold colons themselves
(``postgres://db:5432``), so when parsing, a ``:`` followed by ``//`` or by a
digit belongs to the namespace; the first other ``:`` separates namespace from
name, and any later colon is part of the name. When every colon looks like part
of the namespace (a name starting with a digit, ``dataset:ns:2024_orders``), the
last colon separates them.

Everything here is deterministic: nodes sorted by id, their edges by
(origin, destination).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from processor.core.query_results import LineageResult, QueryEdge, QueryNode

NodeKind = Literal["dataset", "job"]
Pair = tuple[str, str]

_KINDS: dict[str, NodeKind] = {"dataset": "dataset", "job": "job"}
# A separator: a colon that is not followed by "//" nor by a digit.
_SEPARATOR = re.compile(r":(?!//|\d)")


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A parsed Marquez node id."""

    kind: NodeKind
    namespace: str
    name: str


def dataset_node_id(namespace: str, name: str) -> str:
    """``dataset:{namespace}:{name}``."""
    return f"dataset:{namespace}:{name}"


def job_node_id(namespace: str, name: str) -> str:
    """``job:{namespace}:{name}``."""
    return f"job:{namespace}:{name}"


def parse_node_id(value: str) -> NodeRef:
    """A Marquez node id split into kind, namespace and name (module doc);
    a ``ValueError`` when it is not ``dataset:...:...`` or ``job:...:...`` with
    a non-empty namespace and name."""
    kind_text, sep, rest = value.partition(":")
    kind = _KINDS.get(kind_text)
    if not sep or kind is None:
        raise ValueError(f"node id must start with 'dataset:' or 'job:', got {value!r}")
    match = _SEPARATOR.search(rest)
    if match is not None:
        namespace, name = rest[: match.start()], rest[match.end() :]
    else:
        namespace, sep, name = rest.rpartition(":")
        if not sep:
            raise ValueError(f"node id must be '{kind}:{{namespace}}:{{name}}', got {value!r}")
    if not namespace or not name:
        raise ValueError(f"node id has an empty namespace or name: {value!r}")
    return NodeRef(kind, namespace, name)


def lineage_graph(*results: LineageResult) -> list[dict[str, Any]]:
    """The Marquez ``graph`` list of the union of ``results`` (typically the
    upstream and the downstream of one dataset)."""
    datasets: dict[Pair, QueryNode] = {}
    edges: dict[tuple[Pair, Pair], QueryEdge] = {}
    for result in results:
        for node in result.nodes:
            datasets.setdefault((node.namespace, node.name), node)
        for edge in result.edges:
            edges.setdefault((edge.source, edge.target), edge)

    links: set[tuple[str, str]] = set()  # (origin id, destination id)
    job_inputs: dict[Pair, set[Pair]] = {}
    job_outputs: dict[Pair, set[Pair]] = {}
    for edge in edges.values():
        src, dst = dataset_node_id(*edge.source), dataset_node_id(*edge.target)
        if not edge.jobs:
            links.add((src, dst))
        for job in edge.jobs:
            jid = job_node_id(*job)
            links.add((src, jid))
            links.add((jid, dst))
            job_inputs.setdefault(job, set()).add(edge.source)
            job_outputs.setdefault(job, set()).add(edge.target)

    ins: dict[str, list[dict[str, str]]] = {}
    outs: dict[str, list[dict[str, str]]] = {}
    for origin, destination in sorted(links):
        link = {"origin": origin, "destination": destination}
        outs.setdefault(origin, []).append(link)
        ins.setdefault(destination, []).append(link)

    graph: list[dict[str, Any]] = []
    for key, node in datasets.items():
        nid = dataset_node_id(*key)
        graph.append(_node(nid, "DATASET", dataset_data(node), ins, outs))
    for job in job_inputs:
        nid = job_node_id(*job)
        data = job_data(job, job_inputs[job], job_outputs[job])
        graph.append(_node(nid, "JOB", data, ins, outs))
    graph.sort(key=lambda n: str(n["id"]))
    return graph


def dataset_data(node: QueryNode) -> dict[str, Any]:
    """A dataset's ``data`` in Marquez's shape; what we do not track is null or empty."""
    return {
        "id": {"namespace": node.namespace, "name": node.name},
        "type": node.type,
        "name": node.name,
        "physicalName": node.name,
        "createdAt": None,
        "updatedAt": None,
        "namespace": node.namespace,
        "sourceName": None,
        "fields": [],
        "tags": [],
        "lastModifiedAt": None,
        "description": None,
        "facets": {},
    }


def job_data(job: Pair, inputs: Iterable[Pair], outputs: Iterable[Pair]) -> dict[str, Any]:
    """A job's ``data`` in Marquez's shape: its inputs and outputs within the answer."""
    namespace, name = job
    return {
        "id": {"namespace": namespace, "name": name},
        "type": None,
        "name": name,
        "simpleName": name,
        "parentJobName": None,
        "createdAt": None,
        "updatedAt": None,
        "namespace": namespace,
        "inputs": [{"namespace": ns, "name": nm} for ns, nm in sorted(inputs)],
        "outputs": [{"namespace": ns, "name": nm} for ns, nm in sorted(outputs)],
        "location": None,
        "description": None,
        "latestRun": None,
        "tags": [],
        "facets": {},
    }


def _node(
    nid: str,
    kind: str,
    data: dict[str, Any],
    ins: dict[str, list[dict[str, str]]],
    outs: dict[str, list[dict[str, str]]],
) -> dict[str, Any]:
    return {
        "id": nid,
        "type": kind,
        "data": data,
        "inEdges": ins.get(nid, []),
        "outEdges": outs.get(nid, []),
    }
