"""Kafka message keys, following the openlineage-python Kafka transport."""

from __future__ import annotations

from typing import Any


def message_key(event: dict[str, Any]) -> bytes | None:
    """``run:{ns}/{name}`` of the job (of the root job, else the parent job, when
    the run has a parent facet, so a whole chain of runs shares a partition),
    ``job:...`` for a JobEvent, ``dataset:...`` for a DatasetEvent; ``None`` when
    unknown."""
    job = event.get("job")
    if "run" in event or "eventType" in event:
        # One pass, no copy: the gateway keys every event of a batch here.
        return _parent_key(event.get("run")) or _key("run", job)
    key = _key("job", job)
    return key if key is not None else _key("dataset", event.get("dataset"))


def _parent_key(run: Any) -> bytes | None:
    # The client's order: run.facets.parent.root.job, then run.facets.parent.job;
    # a parent job counts only with a non-empty namespace and name.
    facets = run.get("facets") if isinstance(run, dict) else None
    parent = facets.get("parent") if isinstance(facets, dict) else None
    if not isinstance(parent, dict):
        return None
    root = parent.get("root")
    for job in (root.get("job") if isinstance(root, dict) else None, parent.get("job")):
        if isinstance(job, dict):
            namespace, name = job.get("namespace"), job.get("name")
            if isinstance(namespace, str) and isinstance(name, str) and namespace and name:
                return f"run:{namespace}/{name}".encode()
    return None


def _key(kind: str, obj: Any) -> bytes | None:
    if not isinstance(obj, dict):
        return None
    namespace, name = obj.get("namespace"), obj.get("name")
    if not isinstance(namespace, str) or not isinstance(name, str):
        return None
    return f"{kind}:{namespace}/{name}".encode()
