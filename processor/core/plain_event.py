"""A quick path past the pydantic models for the events that plainly fit them.

Step 3 (``validate_event``) builds the pydantic models of ``core/models.py``:
a fifth of a classifier helper's CPU, and for the gateway a third of a batch
event's, while most events are RunEvents whose every field is of the plain
kind the models ask for, and that much a few type checks see. ``fits`` says
True only then, checking what the strict models check (exact types,
non-empty names, no NUL in a dataset's, the run id's pattern, the event type,
the time through the models' own ``normalize_time``); ``read_plain`` does
the same checks and reads the few fields classification needs, normalised as
the models normalise them. Anything else (a static event, a field of another
type, a name that is empty...) is False or None: ``validate_event`` then gives
the verdict and its message, so a refusal reads exactly as it always did.

tests/unit/test_ingest_profile_check.py and tests/property hold this to the
models (a yes here is a yes there, and the same outcome, on the realistic mix,
the fixtures corpus and every field broken in turn), and a fingerprint of the
models' JSON Schema fails when they change.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple, Protocol, TypeVar, cast

from processor.core.timefmt import normalize_time

# core/models.py RunEventType and RunId.
_EVENT_TYPES = frozenset({"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"})
_RUN_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# The spellings clients send (a "T", UTC): a subset of core/timefmt.py's RFC 3339
# layout, where ``normalize_time`` then accepts exactly what ``fromisoformat``
# accepts of the first 19 characters (the ranges), and gives those 19, the
# fraction cut or padded to six digits, and a "Z". Without its other groups and
# the string it builds, a third of its cost.
_UTC_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.([0-9]+))?(?:Z|[+-]00:00)?"
)
_T = TypeVar("_T", bound=tuple[Any, ...])


class _TupleNew(Protocol):
    def __call__(self, cls: type[_T], values: tuple[Any, ...], /) -> _T: ...


# A NamedTuple made without its own ``__new__`` (a Python frame, keywords and
# all): for the outcome types made for every message, that is most of their cost.
new_tuple = cast(_TupleNew, tuple.__new__)


# An input or output as (namespace, name, facets): what ``core.models.Dataset``
# holds of it that classification reads. Plain tuples, as an event's datasets
# are made for every event: a NamedTuple's ``__new__`` cost more than the rest
# of reading them.
PlainDataset = tuple[str, str, dict[str, Any] | None]


class PlainEvent(NamedTuple):
    """What classification reads of a RunEvent that plainly fits the models."""

    event_type: str
    event_time: str  # normalised as the models normalise it
    run_id: str | None  # as sent
    job: tuple[str, str]
    inputs: list[PlainDataset]  # empty for an event that is not COMPLETE
    outputs: list[PlainDataset]


def dataset_type(facets: dict[str, Any] | None) -> str | None:
    """The string at ``facets.datasetType.datasetType``, else ``None``: a
    dataset's type (docs/design.md section 5b)."""
    if not facets:
        return None
    facet = facets.get("datasetType")
    if isinstance(facet, dict):
        value = facet.get("datasetType")
        if isinstance(value, str):
            return value
    return None


def fits(event: dict[str, Any]) -> bool:
    """True when ``event`` is a RunEvent that ``validate_event`` accepts;
    False means "ask ``validate_event``", not "refused"."""
    return _read(event, False, False) is not None


def read_plain(event: dict[str, Any], strict_profile: bool = False) -> PlainEvent | None:
    """``event`` read as ``validate_event`` would read it when it ``fits``
    (and, under ``strict_profile``, names its producer and schemaURL); None
    means "ask ``validate_event``"."""
    return _read(event, strict_profile, True)


def _read(event: dict[str, Any], strict_profile: bool, datasets: bool) -> PlainEvent | None:
    """``read_plain``; a COMPLETE event's datasets are kept only if ``datasets``."""
    event_type = event.get("eventType")
    if type(event_type) is not str or event_type not in _EVENT_TYPES:
        return None
    producer, schema = event.get("producer"), event.get("schemaURL")
    if strict_profile:
        if type(producer) is not str or type(schema) is not str:
            return None
    elif (producer is not None and type(producer) is not str) or (
        schema is not None and type(schema) is not str
    ):
        return None
    job = event.get("job")
    if type(job) is not dict:
        return None
    job_ns, job_name, job_facets = job.get("namespace"), job.get("name"), job.get("facets")
    if type(job_ns) is not str or type(job_name) is not str or not job_ns or not job_name:
        return None
    if job_facets is not None and type(job_facets) is not dict:
        return None
    run_id = _run_id(event.get("run"))
    if run_id == _REFUSED:
        return None
    when = event.get("eventTime")
    if type(when) is not str:
        return None
    event_time = _event_time(when)
    if event_time is None:
        return None
    keep = datasets and event_type == "COMPLETE"  # only a COMPLETE event's are used
    inputs, outputs = event.get("inputs"), event.get("outputs")
    if inputs is None:
        inputs = []
    elif type(inputs) is not list or (inputs := _datasets(inputs, keep)) is None:
        return None
    if outputs is None:
        outputs = []
    elif type(outputs) is not list or (outputs := _datasets(outputs, keep)) is None:
        return None
    return new_tuple(
        PlainEvent, (event_type, event_time, run_id, (job_ns, job_name), inputs, outputs)
    )


# What ``_run_id`` gives for a run the models refuse: no valid id is empty.
_REFUSED = ""


def _run_id(run: Any) -> str | None:
    """The run's id (None without one), or ``_REFUSED`` when the models refuse the run."""
    if run is None:
        return None
    if type(run) is not dict or not _optional_dict(run, "facets"):
        return _REFUSED
    run_id = run.get("runId")
    if run_id is None:
        return None
    if type(run_id) is not str or not _RUN_ID.fullmatch(run_id):
        return _REFUSED
    return run_id


def _event_time(value: str) -> str | None:
    """``normalize_time(value)``, or None where it raises."""
    quick = _UTC_TIME.fullmatch(value)
    try:
        if quick is None:
            return normalize_time(value)
        datetime.fromisoformat(value[:19])
    except ValueError:
        return None
    fraction = quick[1]
    if fraction is None:
        return value[:19] + ".000000Z"
    return f"{value[:19]}.{fraction[:6].ljust(6, '0')}Z"


def _datasets(datasets: list[Any], keep: bool) -> list[PlainDataset] | None:
    """The datasets as ``PlainDataset``s (none unless ``keep``), or None when
    the models refuse one."""
    read: list[PlainDataset] = []
    for dataset in datasets:
        if type(dataset) is not dict:
            return None
        get = dataset.get
        namespace, name = get("namespace"), get("name")
        if type(namespace) is not str or type(name) is not str or not namespace or not name:
            return None
        if "\x00" in namespace or "\x00" in name:
            return None
        facets, in_facets, out_facets = get("facets"), get("inputFacets"), get("outputFacets")
        if (
            (facets is not None and type(facets) is not dict)
            or (in_facets is not None and type(in_facets) is not dict)
            or (out_facets is not None and type(out_facets) is not dict)
        ):
            return None
        if keep:
            read.append((namespace, name, facets))
    return read


def _optional_dict(obj: dict[str, Any], field: str) -> bool:
    value = obj.get(field)
    return value is None or type(value) is dict
