"""promtool runs the ingest gateway's alert-rule unit tests and checks its /metrics."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.conftest import Stack
from tests.integration.ingest_harness import start_gateway
from tests.prometheus_tools import PrometheusTools

ROOT = Path(__file__).resolve().parents[2]


def _promtool(tools: PrometheusTools, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        [str(tools.promtool), *args], cwd=ROOT, input=stdin, capture_output=True, timeout=120
    )
    out = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 0, f"promtool {' '.join(args)} exited {done.returncode}:\n{out}"
    return out


def test_promtool_checks_and_tests_the_ingest_rules(prometheus_tools: PrometheusTools) -> None:
    out = _promtool(prometheus_tools, "check", "rules", "deploy/prometheus/ingest_alerts.yml")
    assert "2 rules found" in out
    out = _promtool(prometheus_tools, "test", "rules", "deploy/prometheus/ingest_alerts_test.yml")
    assert "SUCCESS" in out


def test_promtool_checks_the_gateway_metrics(
    prometheus_tools: PrometheusTools, stack: Stack
) -> None:
    gateway = start_gateway(stack)
    assert gateway.call("POST", "/api/v1/lineage", b"[]", token="ingest")[0] == 400
    body = gateway.metrics_text().encode()
    assert (
        b'lineage_ingest_requests_total{method="POST",route="/api/v1/lineage",status="400"}' in body
    )
    _promtool(prometheus_tools, "check", "metrics", stdin=body)
