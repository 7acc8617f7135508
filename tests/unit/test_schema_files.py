"""The published JSON Schemas match the models and say what the contract says."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from processor.schemas_gen import SCHEMAS, render

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_file_is_current(name: str) -> None:
    model, mode = SCHEMAS[name]
    assert (SCHEMA_DIR / name).read_text() == render(model, mode), (
        f"schemas/{name} is stale: run `make schemas`"
    )


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((SCHEMA_DIR / name).read_text()))


def test_profile_schema_accepts_a_minimal_run_event() -> None:
    event = {
        "eventType": "COMPLETE",
        "eventTime": "2026-03-01T10:00:00Z",
        "job": {"namespace": "dbt", "name": "orders"},
        "inputs": [{"namespace": "postgres://db", "name": "public.orders"}],
        "outputs": [{"namespace": "snowflake://acme", "name": "RAW.ORDERS"}],
        "somethingExtra": {"kept": True},
    }
    assert list(_validator("lineage-profile.schema.json").iter_errors(event)) == []


@pytest.mark.parametrize(
    "event",
    [
        {"eventType": "COMPLETE", "eventTime": "2026-03-01T10:00:00Z", "job": {"namespace": "dbt"}},
        {
            "eventType": "complete",
            "eventTime": "2026-03-01T10:00:00Z",
            "job": {"namespace": "dbt", "name": "x"},
        },
        {
            "eventType": "COMPLETE",
            "eventTime": "2026-03-01",
            "job": {"namespace": "dbt", "name": "x"},
        },
    ],
)
def test_profile_schema_rejects_what_the_processor_rejects(event: dict[str, object]) -> None:
    assert list(_validator("lineage-profile.schema.json").iter_errors(event)) != []


def test_dlq_headers_schema_matches_the_headers_written() -> None:
    from processor.core.dlq_headers import dlq_headers

    headers = dlq_headers(
        reason="invalid_json",
        error="bad",
        topic="t",
        partition=3,
        offset=7,
        timestamp_ms=1700000000000,
        version="1.0",
        rule="mixed;internal=snowflake://*",
    )
    as_object = {k: v.decode() for k, v in headers}
    assert list(_validator("dlq-headers.schema.json").iter_errors(as_object)) == []
    as_object["lineage.reason"] = "not_a_reason"
    assert list(_validator("dlq-headers.schema.json").iter_errors(as_object)) != []
