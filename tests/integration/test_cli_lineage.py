"""``lineage-processor lineage`` against a graph the worker folded."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.events import ol_event
from tests.integration.conftest import Stack
from tests.integration.kafka_utils import produce

PG = ("postgres://db", "public.orders")
RAW = ("snowflake://acme", "RAW.ORDERS")
S3 = ("s3://exports", "orders.parquet")
KAFKA = ("kafka://bus", "orders.v1")


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "processor", *args],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_lineage_commands_print_tree_json_and_dot(stack: Stack) -> None:
    worker = stack.start_worker()
    produce(
        stack.bootstrap,
        stack.input_topic,
        [
            (b"k", ol_event(job=("dbt", "load"), inputs=[PG], outputs=[RAW])),
            (b"k", ol_event(job=("airflow", "export"), inputs=[RAW], outputs=[S3, KAFKA])),
        ],
    )
    worker.wait_for(lambda: worker.metric("lineage_events_accepted_total") == 2, timeout=30)

    tree = _cli(stack, "lineage", "downstream", *PG)
    assert tree.returncode == 0, tree.stderr
    t = "2026-03-01T10:00:00.000000Z"
    assert tree.stdout.splitlines() == [
        "postgres://db/public.orders",
        f"└─-> snowflake://acme/RAW.ORDERS  [dbt/load; 1 events; last {t}]",
        f"   ├─-> kafka://bus/orders.v1  [airflow/export; 1 events; last {t}]",
        f"   └─-> s3://exports/orders.parquet  [airflow/export; 1 events; last {t}]",
    ]

    up = _cli(stack, "lineage", "upstream", *S3, "--depth", "1", "--format", "json")
    assert up.returncode == 0, up.stderr
    answer = json.loads(up.stdout)
    assert (answer["direction"], answer["depth"]) == ("upstream", 1)  # HTTP's words
    assert [(n["name"], n["distance"]) for n in answer["nodes"]] == [
        ("orders.parquet", 0),
        ("RAW.ORDERS", 1),
    ]
    assert answer["truncated"] is False

    impact = _cli(stack, "lineage", "impact", *PG, "--format", "json")
    assert [(d["name"], d["distance"]) for d in json.loads(impact.stdout)["nodes"]] == [
        ("RAW.ORDERS", 1),
        ("orders.v1", 2),
        ("orders.parquet", 2),
    ]

    dot = _cli(stack, "lineage", "downstream", *RAW, "--format", "dot")
    assert dot.stdout.startswith("digraph lineage {")
    assert '"snowflake://acme/RAW.ORDERS" -> "s3://exports/orders.parquet"' in dot.stdout

    search = _cli(stack, "datasets", "search", "ORDERS")
    assert search.stdout.splitlines() == [
        "kafka://bus/orders.v1  (External Node, external)",
        "postgres://db/public.orders  (External Node, external)",
        "s3://exports/orders.parquet  (External Node, external)",
        "snowflake://acme/RAW.ORDERS  (TABLE, internal)",
        "(1-4 of 4 matching 'ORDERS')",
    ]

    unknown = _cli(stack, "lineage", "downstream", "nowhere", "nothing")
    assert unknown.returncode == 1
    assert "nowhere" in unknown.stderr
    bad = _cli(stack, "lineage", "downstream", *PG, "--depth", "0")
    assert bad.returncode == 2
    assert "depth" in bad.stderr
