"""validate_event and the lineage-profile models: the table of docs/design.md section 2."""

from __future__ import annotations

from typing import Any

import pytest

from processor.core.decode import decode_object
from processor.core.models import DatasetEvent, JobEvent, RunEvent
from processor.core.reasons import Reason
from processor.core.validate import field_path, validate_event
from processor.errors import InvalidMessage
from tests.events import (
    OMIT,
    RUN_ID,
    dataset,
    ol_dataset_event,
    ol_event,
    ol_job_event,
    raw_dict,
)

OK_DS = {"namespace": "postgres://db", "name": "public.orders"}


def invalid(obj: dict[str, Any], *, strict: bool = False) -> str:
    """The error message of an ``invalid_event`` rejection."""
    with pytest.raises(InvalidMessage) as info:
        validate_event(obj, strict_profile=strict)
    assert info.value.reason == Reason.INVALID_EVENT.value == "invalid_event"
    return info.value.error


def valid_run(obj: dict[str, Any]) -> RunEvent:
    event = validate_event(obj)
    assert isinstance(event, RunEvent)
    return event


# ------------------------------------------------------------------ baseline


def test_client_events_are_valid() -> None:
    for event_type in ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"):
        event = valid_run(decode_object(ol_event(event_type=event_type), 64))
        assert event.eventType == event_type


def test_minimal_event_without_run_inputs_outputs() -> None:
    obj = {"eventType": "COMPLETE", "eventTime": "2026-03-01T10:00:00Z",
           "job": {"namespace": "a", "name": "b"}}  # fmt: skip
    event = valid_run(obj)
    assert event.run is None
    assert event.inputs is None
    assert event.outputs is None


def test_extra_properties_are_ignored() -> None:
    obj = raw_dict(custom={"x": [1, 2]}, facets="not checked: not a lineage field")
    obj["job"]["extra"] = 1
    obj["inputs"][0]["extra"] = None
    valid_run(obj)


def test_facet_contents_are_not_checked() -> None:
    # contents of facets: anything; no _producer needed
    weird = {"x": None, "y": [1, "a"], "z": {"_producer": 5}, "datasetType": 42}
    obj = raw_dict(inputs=[dataset("postgres://db", "t", facets=weird,
                                   inputFacets=weird, outputFacets=weird)])  # fmt: skip
    obj["job"]["facets"] = weird
    obj["run"]["facets"] = weird
    valid_run(obj)


# ------------------------------------------------------------------ eventType


@pytest.mark.parametrize(
    "value", ["complete", "Complete", "DONE", "", " COMPLETE", 1, None, ["COMPLETE"]]
)
def test_event_type_exact_case_and_values(value: Any) -> None:
    assert invalid(raw_dict(eventType=value)).startswith("eventType: ")


def test_event_type_required_on_a_run_event() -> None:
    # docs/design.md does not list eventType as optional; the client omits it when None
    assert invalid(raw_dict(eventType=OMIT)).startswith("eventType: ")


# ------------------------------------------------------------------ eventTime


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("2026-03-01T10:00:00Z", "2026-03-01T10:00:00.000000Z"),
        ("2026-03-01t10:00:00z", "2026-03-01T10:00:00.000000Z"),
        ("2026-03-01 10:00:00", "2026-03-01T10:00:00.000000Z"),
        ("2026-03-01T10:00:00.9999999+02:00", "2026-03-01T08:00:00.999999Z"),
        ("2026-01-01T00:00:00+00:30", "2025-12-31T23:30:00.000000Z"),
    ],
)
def test_event_time_normalised_by_the_model(value: str, normalised: str) -> None:
    assert valid_run(raw_dict(eventTime=value)).eventTime == normalised


@pytest.mark.parametrize(
    "value",
    ["2026-03-01", 1772359200, 1772359200.5, "2026-03-01T24:00:00Z", "2026-02-30T10:00:00Z",
     None, "", "yesterday", {"t": 1}],
)  # fmt: skip
def test_event_time_invalid(value: Any) -> None:
    assert invalid(raw_dict(eventTime=value)).startswith("eventTime: ")


def test_event_time_required() -> None:
    assert invalid(raw_dict(eventTime=OMIT)).startswith("eventTime: ")


# ------------------------------------------------------------------ job


@pytest.mark.parametrize(
    ("job", "path"),
    [
        ({"namespace": "", "name": "x"}, "job.namespace"),
        ({"namespace": "x", "name": ""}, "job.name"),
        ({"namespace": "x"}, "job.name"),
        ({"name": "x"}, "job.namespace"),
        ({"namespace": 1, "name": "x"}, "job.namespace"),
        ({"namespace": "x", "name": None}, "job.name"),
        ({"namespace": "x", "name": "y", "facets": []}, "job.facets"),
        ("dbt/orders", "job"),
        (None, "job"),
        (OMIT, "job"),
    ],
)
def test_job_identity(job: Any, path: str) -> None:
    assert invalid(raw_dict(job=job)).startswith(f"{path}: ")


# ------------------------------------------------------------------ inputs / outputs


@pytest.mark.parametrize("side", ["inputs", "outputs"])
def test_inputs_outputs_absent_or_null_are_empty(side: str) -> None:
    assert getattr(valid_run(raw_dict(**{side: OMIT})), side) is None
    assert getattr(valid_run(raw_dict(**{side: None})), side) is None
    assert getattr(valid_run(raw_dict(**{side: []})), side) == []


@pytest.mark.parametrize("side", ["inputs", "outputs"])
@pytest.mark.parametrize("value", [{}, OK_DS, "a", 1, True])
def test_inputs_outputs_must_be_lists(side: str, value: Any) -> None:
    assert invalid(raw_dict(**{side: value})).startswith(f"{side}: ")


@pytest.mark.parametrize(
    ("ds", "path"),
    [
        ({"namespace": "snowflake://acme", "name": ""}, "outputs[1].name"),
        ({"namespace": "", "name": "x"}, "outputs[1].namespace"),
        ({"namespace": "snowflake://acme"}, "outputs[1].name"),
        ({"name": "x"}, "outputs[1].namespace"),
        ({"namespace": "snowflake://acme", "name": 5}, "outputs[1].name"),
        ({"namespace": "snowflake://acme", "name": "a\x00b"}, "outputs[1].name"),
        ({"namespace": "snow\x00flake", "name": "x"}, "outputs[1].namespace"),
        ({"namespace": "snowflake://acme", "name": "\x00"}, "outputs[1].name"),
        ({"namespace": "s", "name": "x", "facets": []}, "outputs[1].facets"),
        ({"namespace": "s", "name": "x", "facets": "f"}, "outputs[1].facets"),
        ({"namespace": "s", "name": "x", "inputFacets": 1}, "outputs[1].inputFacets"),
        ({"namespace": "s", "name": "x", "outputFacets": [{}]}, "outputs[1].outputFacets"),
        ("snowflake://acme/x", "outputs[1]"),
        (None, "outputs[1]"),
    ],
)
def test_dataset_identity_and_field_path(ds: Any, path: str) -> None:
    obj = raw_dict(outputs=[{"namespace": "snowflake://acme", "name": "ok"}, ds])
    assert invalid(obj).startswith(f"{path}: ")


def test_field_path_in_first_position() -> None:
    error = invalid(raw_dict(outputs=[{"namespace": "snowflake://acme", "name": ""}]))
    assert error.startswith("outputs[0].name: ")


def test_nul_message_says_why() -> None:
    error = invalid(raw_dict(inputs=[{"namespace": "n", "name": "a\x00"}]))
    assert error.startswith("inputs[0].name: ")
    assert "NUL" in error


def test_several_errors_name_the_first_and_count_the_rest() -> None:
    error = invalid(raw_dict(eventType="x", eventTime="y"))
    assert "(and 1 more)" in error


@pytest.mark.parametrize("key", ["facets", "inputFacets", "outputFacets"])
def test_dataset_facets_null_is_absent(key: str) -> None:
    valid_run(raw_dict(inputs=[dataset("postgres://db", "t", **{key: None})]))


def test_dataset_names_are_case_sensitive_and_may_hold_anything_but_nul() -> None:
    names = ["a:b", "{x}", "line\nbreak", "é" * 1001, "\U0001f600", " ", "a/b/c"]
    event = valid_run(raw_dict(inputs=[dataset("Postgres://DB", n) for n in names]))
    assert [d.name for d in event.inputs or []] == names
    assert event.inputs is not None
    assert event.inputs[0].namespace == "Postgres://DB"


# ------------------------------------------------------------------ run


@pytest.mark.parametrize(
    "run_id",
    [
        "3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f",
        "3F5E2B1C-0D4E-4C8A-9B7F-1A2B3C4D5E6F",
        "3F5e2B1c-0D4e-4c8A-9b7F-1a2B3c4D5e6F",
        "00000000-0000-0000-0000-000000000000",
        "019a0000-0000-7000-8000-000000000000",  # a UUIDv7
    ],
)
def test_run_id_any_case(run_id: str) -> None:
    event = valid_run(raw_dict(run={"runId": run_id}))
    assert event.run is not None
    assert event.run.runId == run_id  # kept as sent; the fold lowercases it


@pytest.mark.parametrize(
    "run_id",
    [
        "3f5e2b1c0d4e4c8a9b7f1a2b3c4d5e6f",  # no dashes
        "{3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f}",
        "urn:uuid:3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f",
        "3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f\n",
        " 3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f",
        "3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6g",
        "3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6",
        "",
        42,
        ["3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f"],
    ],
)
def test_run_id_invalid(run_id: Any) -> None:
    assert invalid(raw_dict(run={"runId": run_id})).startswith("run.runId: ")


def test_run_optional_and_run_id_optional() -> None:
    assert valid_run(raw_dict(run=OMIT)).run is None
    assert valid_run(raw_dict(run=None)).run is None
    event = valid_run(raw_dict(run={}))
    assert event.run is not None
    assert event.run.runId is None
    event = valid_run(
        raw_dict(
            run={"runId": None, "facets": None}, job={"namespace": "a", "name": "b", "facets": None}
        )
    )
    assert event.run is not None
    assert event.run.runId is None


@pytest.mark.parametrize("run", [[], "x", 1, [{"runId": RUN_ID}]])
def test_run_must_be_an_object(run: Any) -> None:
    assert invalid(raw_dict(run=run)).startswith("run: ")


def test_run_facets_must_be_an_object() -> None:
    assert invalid(raw_dict(run={"runId": RUN_ID, "facets": []})).startswith("run.facets: ")


# ------------------------------------------------------------------ producer / schemaURL


def test_producer_and_schema_url_optional_by_default() -> None:
    valid_run(raw_dict(producer=OMIT, schemaURL=OMIT))


@pytest.mark.parametrize("field", ["producer", "schemaURL"])
def test_producer_and_schema_url_must_be_strings_when_present(field: str) -> None:
    assert invalid(raw_dict(**{field: 1})).startswith(f"{field}: ")


@pytest.mark.parametrize("field", ["producer", "schemaURL"])
@pytest.mark.parametrize("value", [OMIT, None])
def test_strict_profile_requires_producer_and_schema_url(field: str, value: Any) -> None:
    assert invalid(raw_dict(**{field: value}), strict=True).startswith(f"{field}: ")


def test_strict_profile_accepts_client_events() -> None:
    assert isinstance(validate_event(decode_object(ol_event(), 64), strict_profile=True), RunEvent)
    assert isinstance(
        validate_event(decode_object(ol_job_event(), 64), strict_profile=True), JobEvent
    )


def test_strict_profile_applies_to_static_events() -> None:
    obj = decode_object(ol_dataset_event(), 64)
    del obj["producer"]
    assert isinstance(validate_event(obj), DatasetEvent)
    assert invalid(obj, strict=True).startswith("producer: ")


# ------------------------------------------------------------------ static lineage


def test_client_dataset_event_is_recognised() -> None:
    event = validate_event(decode_object(ol_dataset_event(), 64))
    assert isinstance(event, DatasetEvent)
    assert event.eventTime == "2026-03-01T10:00:00.000000Z"


def test_client_job_event_is_recognised() -> None:
    assert isinstance(validate_event(decode_object(ol_job_event(), 64)), JobEvent)


def test_static_events_need_valid_time_and_identities() -> None:
    ds_event = decode_object(ol_dataset_event(), 64)
    assert invalid({**ds_event, "eventTime": "2026-03-01"}).startswith("eventTime: ")
    assert invalid({**ds_event, "dataset": {"namespace": "x", "name": ""}}).startswith(
        "dataset.name: "
    )
    assert invalid({**ds_event, "dataset": {"namespace": "x", "name": "a\x00"}}).startswith(
        "dataset.name: "
    )
    job_event = decode_object(ol_job_event(), 64)
    assert invalid({**job_event, "job": {"namespace": "x", "name": ""}}).startswith("job.name: ")
    assert invalid({**job_event, "outputs": [{"namespace": "x"}]}).startswith("outputs[0].name: ")


def test_object_with_run_or_event_type_is_a_run_event() -> None:
    # a "dataset" next to eventType does not make it static
    obj = raw_dict(dataset={"namespace": "a", "name": "b"})
    assert isinstance(validate_event(obj), RunEvent)
    # run present, eventType absent: a RunEvent missing its eventType
    assert invalid(raw_dict(eventType=OMIT)).startswith("eventType: ")


def test_object_with_neither_run_event_type_job_nor_dataset_is_invalid() -> None:
    invalid({"eventTime": "2026-03-01T10:00:00Z"})
    invalid({})


# ------------------------------------------------------------------ field_path


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), "(root)"),
        (("eventType",), "eventType"),
        (("outputs", 0, "name"), "outputs[0].name"),
        (("run", "runId"), "run.runId"),
        (("inputs", 12, "facets"), "inputs[12].facets"),
        (("a", 0, 1, "b"), "a[0][1].b"),
    ],
)
def test_field_path(loc: tuple[int | str, ...], path: str) -> None:
    assert field_path(loc) == path
