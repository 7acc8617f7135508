"""A quick yes for the events that plainly fit the lineage profile.

Step 3 (``validate_event``) builds the pydantic models of ``core/models.py``
only to learn whether an event fits them: about a third of the gateway's CPU
for a batch event, and of no use after (the worker validates again). Most
events are RunEvents whose every field is of the plain kind the models ask
for, and that much a few type checks see: ``fits`` says True only then,
checking what the strict models check (exact types, non-empty names, no NUL
in a dataset's, the run id's pattern, the event type, the time through the
models' own ``normalize_time``). Anything else (a static event, a field of
another type, a name that is empty...) is False: the worker's
``validate_event`` then gives the verdict and its message, so a refusal
reads exactly as the worker's would.

tests/unit/test_ingest_profile_check.py holds this to the models: a yes here
is a yes there on the realistic mix and on every field broken in turn, and a
fingerprint of the models' JSON Schema fails when they change.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from processor.core.timefmt import normalize_time

# core/models.py RunEventType and RunId.
_EVENT_TYPES = frozenset({"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"})
_RUN_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATASET_FACETS = ("facets", "inputFacets", "outputFacets")
# The spellings clients send (a "T", UTC): a subset of core/timefmt.py's RFC 3339
# layout, where ``normalize_time`` then accepts exactly what ``fromisoformat``
# accepts of the first 19 characters (the ranges). Without its groups and the
# normalised string it would build, a third of its cost.
_UTC_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-]00:00)?"
)


def fits(event: dict[str, Any]) -> bool:
    """True when ``event`` is a RunEvent that ``validate_event`` accepts;
    False means "ask ``validate_event``", not "refused"."""
    if type(event.get("eventType")) is not str or event["eventType"] not in _EVENT_TYPES:
        return False
    if not _optional_str(event, "producer") or not _optional_str(event, "schemaURL"):
        return False
    job = event.get("job")
    if type(job) is not dict or not _named(job) or not _optional_dict(job, "facets"):
        return False
    run = event.get("run")
    if run is not None:
        if type(run) is not dict or not _optional_dict(run, "facets"):
            return False
        run_id = run.get("runId")
        if run_id is not None and (type(run_id) is not str or not _RUN_ID.fullmatch(run_id)):
            return False
    for side in ("inputs", "outputs"):
        datasets = event.get(side)
        if datasets is not None and (type(datasets) is not list or not _datasets(datasets)):
            return False
    when = event.get("eventTime")
    return type(when) is str and _valid_time(when)


def _valid_time(value: str) -> bool:
    """What ``normalize_time`` accepts."""
    try:
        if _UTC_TIME.fullmatch(value):
            datetime.fromisoformat(value[:19])
        else:
            normalize_time(value)
    except ValueError:
        return False
    return True


def _datasets(datasets: list[Any]) -> bool:
    for dataset in datasets:
        if type(dataset) is not dict:
            return False
        namespace, name = dataset.get("namespace"), dataset.get("name")
        if type(namespace) is not str or type(name) is not str or not namespace or not name:
            return False
        if "\x00" in namespace or "\x00" in name:
            return False
        for field in _DATASET_FACETS:
            facets = dataset.get(field)
            if facets is not None and type(facets) is not dict:
                return False
    return True


def _named(obj: dict[str, Any]) -> bool:
    namespace, name = obj.get("namespace"), obj.get("name")
    return type(namespace) is str and type(name) is str and bool(namespace) and bool(name)


def _optional_str(obj: dict[str, Any], field: str) -> bool:
    value = obj.get(field)
    return value is None or type(value) is str


def _optional_dict(obj: dict[str, Any], field: str) -> bool:
    value = obj.get(field)
    return value is None or type(value) is dict
