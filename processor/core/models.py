"""Pydantic models of the lineage profile: what lineage needs from an event.

These models check identities, times and shapes only. Extra properties and the
contents of facets are accepted without checks (they are kept in the original
bytes and in the content hash, never interpreted), because real producers add
facets of their own and omit ``_producer`` on facets freely.

The JSON Schema in ``schemas/lineage-profile.schema.json`` is generated from
these classes (``make schemas``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from processor.core.timefmt import normalize_time

_PROFILE = ConfigDict(strict=True, extra="ignore", frozen=True)


def _event_time(value: str) -> str:
    return normalize_time(value)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


NonEmptyStr = Annotated[StrictStr, Field(min_length=1)]
DatasetStr = Annotated[StrictStr, Field(min_length=1), AfterValidator(_no_nul)]
EventTime = Annotated[
    StrictStr,
    AfterValidator(_event_time),
    Field(
        description="RFC 3339 date-time; without offset it is UTC; normalised to "
        "YYYY-MM-DDTHH:MM:SS.ffffffZ with the fraction truncated to microseconds",
        json_schema_extra={
            "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}"
            r"(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
        },
    ),
]
RunId = Annotated[
    StrictStr,
    Field(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
]
Facets = dict[str, Any] | None
RunEventType = Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]


class Dataset(BaseModel):
    """An input or output dataset: identified by (namespace, name), case-sensitive."""

    model_config = _PROFILE
    namespace: DatasetStr
    name: DatasetStr
    facets: Facets = None
    inputFacets: Facets = None
    outputFacets: Facets = None


class Job(BaseModel):
    """The job that ran: identified by (namespace, name)."""

    model_config = _PROFILE
    namespace: NonEmptyStr
    name: NonEmptyStr
    facets: Facets = None


class Run(BaseModel):
    """The run of a job; ``runId`` is a UUID in 8-4-4-4-12 hex form, any case."""

    model_config = _PROFILE
    runId: RunId | None = None
    facets: Facets = None


class RunEvent(BaseModel):
    """An OpenLineage RunEvent, as far as lineage needs it."""

    model_config = _PROFILE
    eventType: RunEventType
    eventTime: EventTime
    job: Job
    run: Run | None = None
    inputs: list[Dataset] | None = None
    outputs: list[Dataset] | None = None
    producer: StrictStr | None = None
    schemaURL: StrictStr | None = None


class StaticDataset(BaseModel):
    """The dataset of a static DatasetEvent."""

    model_config = _PROFILE
    namespace: DatasetStr
    name: DatasetStr
    facets: Facets = None


# Static events are told apart by shape (docs/design.md section 2); the schema says
# so too, so that a RunEvent with a bad eventType does not pass as a JobEvent.
_NOT_RUN_EVENT: dict[str, Any] = {"anyOf": [{"required": ["run"]}, {"required": ["eventType"]}]}


class DatasetEvent(BaseModel):
    """OpenLineage 2.x static DatasetEvent: recognised and ignored."""

    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        frozen=True,
        json_schema_extra={"not": {"anyOf": [*_NOT_RUN_EVENT["anyOf"], {"required": ["job"]}]}},
    )
    eventTime: EventTime
    dataset: StaticDataset
    producer: StrictStr | None = None
    schemaURL: StrictStr | None = None


class JobEvent(BaseModel):
    """OpenLineage 2.x static JobEvent: recognised and ignored."""

    model_config = ConfigDict(
        strict=True, extra="ignore", frozen=True, json_schema_extra={"not": _NOT_RUN_EVENT}
    )
    eventTime: EventTime
    job: Job
    inputs: list[Dataset] | None = None
    outputs: list[Dataset] | None = None
    producer: StrictStr | None = None
    schemaURL: StrictStr | None = None


class LineageProfile(BaseModel):
    """Any message the processor accepts as valid: a RunEvent, DatasetEvent or JobEvent.

    Used only to generate the published JSON Schema; validation picks the
    model from the message's shape (docs/design.md section 2).
    """

    model_config = ConfigDict(title="OpenLineage lineage profile")
    event: RunEvent | DatasetEvent | JobEvent
