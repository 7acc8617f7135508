"""message_key: the openlineage-python Kafka transport's key convention.

The expected keys come from the client itself: ``KafkaTransport._get_message_key``
(openlineage/client/transport/kafka.py), called on an instance made without
``__init__`` (which would build a confluent-kafka producer).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from openlineage.client import event_v2
from openlineage.client.generated import parent_run
from openlineage.client.serde import Serde
from openlineage.client.transport.kafka import KafkaTransport

from processor.core.message_keys import message_key

RUN_ID = "3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f"
PARENT_RUN = "11111111-1111-4111-8111-111111111111"
ROOT_RUN = "22222222-2222-4222-8222-222222222222"
TIME = "2026-03-01T10:00:00Z"


def client_key(event: Any) -> bytes:
    transport = KafkaTransport.__new__(KafkaTransport)
    key = transport._get_message_key(event)
    assert isinstance(key, str)
    return key.encode("utf-8")


def as_json(event: Any) -> dict[str, Any]:
    obj = json.loads(Serde.to_json(event))
    assert isinstance(obj, dict)
    return obj


def run_event(
    run_facets: dict[str, Any] | None = None, job: tuple[str, str] = ("dbt", "orders")
) -> Any:
    return event_v2.RunEvent(
        eventType=event_v2.RunState.COMPLETE,
        eventTime=TIME,
        run=event_v2.Run(runId=RUN_ID, facets=run_facets or {}),
        job=event_v2.Job(namespace=job[0], name=job[1]),
    )


def parent_facet(with_root: bool) -> parent_run.ParentRunFacet:
    root = None
    if with_root:
        root = parent_run.Root(
            run=parent_run.RootRun(runId=ROOT_RUN),
            job=parent_run.RootJob(namespace="airflow", name="root_dag"),
        )
    return parent_run.ParentRunFacet(
        run=parent_run.Run(runId=PARENT_RUN),
        job=parent_run.Job(namespace="airflow", name="dag.task_group"),
        root=root,
    )


CASES = {
    "run": run_event(),
    "run-unicode": run_event(job=("ns é", "job/with:sep")),
    "run-with-parent": run_event({"parent": parent_facet(with_root=False)}),
    "run-with-parent-and-root": run_event({"parent": parent_facet(with_root=True)}),
    "dataset-event": event_v2.DatasetEvent(
        eventTime=TIME, dataset=event_v2.StaticDataset(namespace="snowflake://acme", name="T")
    ),
    "job-event": event_v2.JobEvent(eventTime=TIME, job=event_v2.Job(namespace="dbt", name="m")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_same_key_as_the_client(name: str) -> None:
    event = CASES[name]
    assert message_key(as_json(event)) == client_key(event)


def test_expected_keys_by_hand() -> None:
    assert message_key(as_json(CASES["run"])) == b"run:dbt/orders"
    assert message_key(as_json(CASES["run-with-parent"])) == b"run:airflow/dag.task_group"
    assert message_key(as_json(CASES["run-with-parent-and-root"])) == b"run:airflow/root_dag"
    assert message_key(as_json(CASES["dataset-event"])) == b"dataset:snowflake://acme/T"
    assert message_key(as_json(CASES["job-event"])) == b"job:dbt/m"
    assert message_key(as_json(CASES["run-unicode"])) == "run:ns é/job/with:sep".encode()


def test_malformed_parent_falls_back_to_the_job() -> None:
    base = as_json(CASES["run"])
    parent: Any
    for parent in ({}, {"job": "x"}, {"job": {"namespace": "", "name": "p"}}, [], None,
                   {"root": {"job": {"namespace": 1}}}):  # fmt: skip
        base["run"]["facets"] = {"parent": parent}
        assert message_key(base) == b"run:dbt/orders"
    base["run"]["facets"] = {
        "parent": {"root": {"job": None}, "job": {"namespace": "p", "name": "q"}}
    }
    assert message_key(base) == b"run:p/q"


def test_unknown_shapes_have_no_key() -> None:
    assert message_key({}) is None
    assert message_key({"eventType": "COMPLETE"}) is None
    assert message_key({"eventType": "COMPLETE", "job": {"namespace": 1, "name": "x"}}) is None
    assert message_key({"dataset": "x"}) is None


JOB = {"namespace": "ns", "name": "child"}
PARENT_JOB = {"namespace": "pns", "name": "parent"}
ROOT_JOB = {"namespace": "rns", "name": "root"}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"eventType": "START", "job": JOB}, b"run:ns/child"),
        ({"run": {}, "job": JOB}, b"run:ns/child"),
        ({"run": {"facets": {"parent": {"job": PARENT_JOB}}}, "job": JOB}, b"run:pns/parent"),
        (
            {"run": {"facets": {"parent": {"job": PARENT_JOB, "root": {"job": ROOT_JOB}}}}},
            b"run:rns/root",
        ),
        # An empty root name falls back to the parent, an empty parent's to the job.
        (
            {
                "run": {
                    "facets": {
                        "parent": {
                            "job": PARENT_JOB,
                            "root": {"job": {"namespace": "r", "name": ""}},
                        }
                    }
                },
                "job": JOB,
            },
            b"run:pns/parent",
        ),
        (
            {"run": {"facets": {"parent": {"job": {"namespace": "", "name": "p"}}}}, "job": JOB},
            b"run:ns/child",
        ),
        # The job's own name may be empty; a job that is not named gives no key.
        ({"eventType": "START", "job": {"namespace": "ns", "name": ""}}, b"run:ns/"),
        ({"eventType": "START", "job": {"namespace": "ns", "name": 3}}, None),
        ({"eventType": "START", "job": "j"}, None),
        ({"run": "r", "job": JOB}, b"run:ns/child"),
        ({"run": {"facets": {"parent": "p"}}, "job": JOB}, b"run:ns/child"),
        ({"run": {"facets": {"parent": {"root": "x", "job": PARENT_JOB}}}}, b"run:pns/parent"),
        ({"job": JOB}, b"job:ns/child"),
        ({"dataset": {"namespace": "d", "name": "t"}}, b"dataset:d/t"),
        ({}, None),
    ],
)
def test_each_shape(event: dict[str, Any], expected: bytes | None) -> None:
    assert message_key(event) == expected
