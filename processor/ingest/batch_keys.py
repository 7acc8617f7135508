"""The Kafka key of a batch's element, as ``core/message_keys.message_key`` makes it.

A batch event's key cost 1.4 µs through the shared function, which copies the
parent job and checks each name twice; here a RunEvent's key is read in one
pass. Any event without ``run`` or ``eventType`` (a static one) goes to the
shared function. tests/unit/test_ingest_batch_keys.py holds the two equal on the
fixtures' corpus, the sample mix and the parent facet's shapes.
"""

from __future__ import annotations

from typing import Any

from processor.core.message_keys import message_key


def batch_key(event: dict[str, Any]) -> bytes | None:
    """``message_key(event)``."""
    if "run" not in event and "eventType" not in event:
        return message_key(event)
    run = event.get("run")
    facets = run.get("facets") if isinstance(run, dict) else None
    parent = facets.get("parent") if isinstance(facets, dict) else None
    if isinstance(parent, dict):
        root = parent.get("root")
        for job in (root.get("job") if isinstance(root, dict) else None, parent.get("job")):
            if isinstance(job, dict):
                namespace, name = job.get("namespace"), job.get("name")
                if isinstance(namespace, str) and isinstance(name, str) and namespace and name:
                    return f"run:{namespace}/{name}".encode()
    job = event.get("job")
    if isinstance(job, dict):
        namespace, name = job.get("namespace"), job.get("name")
        if isinstance(namespace, str) and isinstance(name, str):
            return f"run:{namespace}/{name}".encode()
    return None
