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
        return _key("run", _parent_job(event.get("run")) or job)
    if _named(job):
        return _key("job", job)
    return _key("dataset", event.get("dataset"))


def _parent_job(run: Any) -> dict[str, Any] | None:
    # The client's order: run.facets.parent.root.job, then run.facets.parent.job.
    facets = run.get("facets") if isinstance(run, dict) else None
    parent = facets.get("parent") if isinstance(facets, dict) else None
    if not isinstance(parent, dict):
        return None
    root = parent.get("root")
    candidates: tuple[Any, Any] = (
        root.get("job") if isinstance(root, dict) else None,
        parent.get("job"),
    )
    for job in candidates:
        if _named(job) and job["namespace"] and job["name"]:
            return dict(job)
    return None


def _named(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("namespace"), str)
        and isinstance(obj.get("name"), str)
    )


def _key(kind: str, obj: Any) -> bytes | None:
    if not _named(obj):
        return None
    return f"{kind}:{obj['namespace']}/{obj['name']}".encode()
