"""A real Prometheus and promtool against the deploy files and a running worker.

``promtool`` checks the files in ``deploy/prometheus/`` (and runs the alert
rules' unit tests) exactly as docs/monitoring.md tells an operator to, and lints a
worker's ``/metrics``. Then a real Prometheus, loaded with ``alerts.yml``,
scrapes a worker every second while the test publishes a known mix of events,
and its HTTP API must give back what was published: counters exact, rates above
0, lag 0 once the worker caught up, the target up, every rule healthy, the
alerts that must stay silent with a healthy worker inactive, and the one that
must fire (a new dead-letter reason) firing.

The binaries come from the ``prometheus_tools`` fixture (PATH, else Debian's
package fetched into ``.services/prometheus/``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.events import ol_event
from tests.integration.conftest import Stack
from tests.integration.harness import WorkerProcess, wait_for
from tests.integration.kafka_utils import produce
from tests.prometheus_tools import PrometheusServer, PrometheusTools

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
JOB = "lineage-processor"  # the job name the alert rules expect

# Alerts whose expression must not hold at all (not even pending) once a healthy
# worker has caught up. LineageNewDeadLetterReason fires (the scenario has new
# reasons) and LineageDeadLetterRateHigh may be pending (a third are dead letters).
SILENT_WHEN_HEALTHY = {
    "LineageWorkerDown",
    "LineageAllWorkersDown",
    "LineageConsumerLagGrowing",
    "LineageNotConsuming",
    "LineageRedisErrors",
    "LineageDependencyDown",
    "LineageRebuildStuck",
}
# ...and these must not even turn pending at any time during the scenario.
NEVER_ACTIVE = SILENT_WHEN_HEALTHY - {"LineageAllWorkersDown", "LineageNotConsuming"}


def _promtool(
    tools: PrometheusTools, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run promtool from the repository root, as docs/monitoring.md does; assert it exits 0."""
    done = subprocess.run(
        [str(tools.promtool), *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, (
        f"`promtool {' '.join(args)}` exited with {done.returncode}:\n{done.stdout}{done.stderr}"
    )
    return done


# --- the files in deploy/prometheus ----------------------------------------------------


def test_promtool_check_config(prometheus_tools: PrometheusTools) -> None:
    out = _promtool(prometheus_tools, "check", "config", "deploy/prometheus/prometheus.yml")
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert f"SUCCESS: {len(config['rule_files'])} rule files found" in out.stdout, out.stdout


def test_promtool_check_rules(prometheus_tools: PrometheusTools) -> None:
    rules = [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    out = _promtool(prometheus_tools, "check", "rules", "deploy/prometheus/alerts.yml")
    assert f"SUCCESS: {len(rules)} rules found" in out.stdout, out.stdout


def test_promtool_test_rules(prometheus_tools: PrometheusTools) -> None:
    out = _promtool(prometheus_tools, "test", "rules", "deploy/prometheus/alerts_test.yml")
    assert "SUCCESS" in out.stdout, out.stdout


# --- a worker's /metrics -----------------------------------------------------------------


def _crossing(tag: str) -> bytes:
    """Accepted: external input, internal (snowflake://) output."""
    return ol_event(job=("dbt", f"cross-{tag}"))


def _all_external(tag: str) -> bytes:
    """Dead-lettered as mix_rule_external_only."""
    return ol_event(job=("dbt", f"ext-{tag}"), outputs=(("s3://exports", f"out-{tag}"),))


def _invalid_json(tag: str) -> bytes:
    """Dead-lettered as invalid_json."""
    return b'{"eventType": "COMPLETE", "tag": "' + tag.encode() + b'"'


def test_promtool_check_metrics_on_a_worker(
    stack: Stack, prometheus_tools: PrometheusTools
) -> None:
    worker = stack.start_worker()
    # Accepted, duplicate, dead-lettered: labelled series and histogram buckets exist.
    values = [_crossing("a"), _crossing("b"), _crossing("a"), _all_external("c")]
    values.append(_invalid_json("d"))
    produce(stack.bootstrap, stack.input_topic, [(None, v) for v in values])
    worker.wait_for(lambda: worker.metric("lineage_events_consumed_total") == len(values))

    # The lag gauge is refreshed every 2 s: wait for its labelled series too.
    def with_lag() -> str:
        text = worker.metrics_text()
        return text if "lineage_consumer_lag_messages{" in text else ""

    body = worker.wait_for(with_lag)
    for present in (
        "lineage_batch_seconds_bucket{",
        "lineage_redis_seconds_bucket{",
        'lineage_events_rejected_total{reason="invalid_json"} 1.0',
        "lineage_events_duplicate_total 1.0",
        "faust_topic_partition_read_offset{",
    ):
        assert present in body, f"{present!r} not in /metrics:\n{body}"
    out = _promtool(prometheus_tools, "check", "metrics", stdin=body)
    assert out.stdout.strip() == out.stderr.strip() == "", out.stdout + out.stderr


# --- a real Prometheus scraping a worker -------------------------------------------------


@pytest.fixture
def start_prometheus(
    prometheus_tools: PrometheusTools, tmp_path: Path
) -> Iterator[Callable[[WorkerProcess], PrometheusServer]]:
    """``start_prometheus(worker)``: a Prometheus scraping it every second as job
    ``lineage-processor``, with ``deploy/prometheus/alerts.yml`` evaluated every
    second. Stopped when the test ends, however it ends."""
    started: list[PrometheusServer] = []

    def start(worker: WorkerProcess) -> PrometheusServer:
        workdir = tmp_path / f"prometheus-{len(started)}"
        workdir.mkdir()
        config = workdir / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {
                        "scrape_interval": "1s",
                        "scrape_timeout": "1s",
                        "evaluation_interval": "1s",
                    },
                    "rule_files": [str(ALERTS)],
                    "scrape_configs": [
                        {
                            "job_name": JOB,
                            "static_configs": [{"targets": [f"127.0.0.1:{worker.web_port}"]}],
                        }
                    ],
                }
            )
        )
        _promtool(prometheus_tools, "check", "config", str(config))
        server = PrometheusServer(prometheus_tools.prometheus, config, workdir)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def _value(prom: PrometheusServer, expr: str) -> float | None:
    """The single value of an instant query; None when the result is empty."""
    result = prom.query(expr)
    assert len(result) <= 1, f"{expr!r} gave several series: {result}"
    return result[0][1] if result else None


def _alert_states(prom: PrometheusServer) -> dict[str, str]:
    return {name: r["state"] for name, r in prom.rules().items() if r["type"] == "alerting"}


def test_prometheus_scrapes_what_was_published(
    stack: Stack, start_prometheus: Callable[[WorkerProcess], PrometheusServer]
) -> None:
    worker = stack.start_worker()
    prom = start_prometheus(worker)

    def describe() -> str:
        return f"prometheus {prom.describe()}\n{worker.describe()}"

    def until(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
        return wait_for(predicate, timeout, 0.2, describe=describe)

    sel = f'{{job="{JOB}"}}'
    # Scraped at least once before anything is published: the counters start at 0,
    # so the first increase is visible to rate().
    until(lambda: _value(prom, f"lineage_events_accepted_total{sel}") == 0)

    def healthy_rules() -> dict[str, Any] | None:
        rules = prom.rules()
        return rules if all(r["health"] == "ok" for r in rules.values()) else None

    rules = until(healthy_rules)
    expected_rules = {
        r["alert"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]
    }
    assert set(rules) == expected_rules
    assert not any(r.get("lastError") for r in rules.values()), rules

    # Three waves of 4 accepted, 2 all-external and 1 invalid JSON message.
    waves, accepted, external, invalid = 3, 4, 2, 1
    seen_states: list[dict[str, str]] = []
    rates: list[float] = []
    for wave in range(waves):
        values = [_crossing(f"{wave}-{i}") for i in range(accepted)]
        values[1:1] = [_all_external(f"{wave}-{i}") for i in range(external)]
        values += [_invalid_json(f"{wave}-{i}") for i in range(invalid)]
        produce(stack.bootstrap, stack.input_topic, [(None, v) for v in values])
        consumed_so_far = f"sum(lineage_events_consumed_total{sel}) == {len(values) * (wave + 1)}"
        until(partial(prom.query, consumed_so_far))  # scraped after this wave was processed
        rate = _value(prom, f"rate(lineage_events_accepted_total{sel}[30s]) > 0")
        assert rate is not None, f"accepted rate is 0 after wave {wave}\n{describe()}"
        rates.append(rate)
        seen_states.append(_alert_states(prom))

    n, m, k = waves * accepted, waves * external, waves * invalid
    # Counters: exactly what was published, in Prometheus as on the worker itself.
    assert (
        _value(prom, f"lineage_events_accepted_total{sel}")
        == n
        == worker.metric("lineage_events_accepted_total")
    )
    consumed = prom.query(f"sum by (topic) (lineage_events_consumed_total{sel})")
    assert consumed == [({"topic": stack.input_topic}, n + m + k)]
    by_reason = prom.query(f"sum by (reason) (lineage_events_rejected_total{sel})")
    rejected = {labels["reason"]: value for labels, value in by_reason}
    assert {r: v for r, v in rejected.items() if v} == {
        "mix_rule_external_only": m,
        "invalid_json": k,
    }, rejected
    assert rejected == {
        reason: worker.metric("lineage_events_rejected_total", reason=reason) for reason in rejected
    }
    assert _value(prom, f"up{sel}") == 1
    # Lag per partition of the input topic (one partition), 0 once caught up; the
    # worker refreshes the gauge every 2 s.
    lag_expr = f'lineage_consumer_lag_messages{{job="{JOB}", topic="{stack.input_topic}"}}'

    def caught_up() -> list[tuple[dict[str, str], float]] | None:
        lag = prom.query(lag_expr)
        return lag if lag and all(v == 0 for _, v in lag) else None

    lag = until(caught_up)
    assert [labels["partition"] for labels, _ in lag] == ["0"]

    # Alerts: the silent ones inactive (not even pending), the new reasons firing.
    def settled() -> dict[str, Any] | None:
        rules = prom.rules()
        states = {name: r["state"] for name, r in rules.items()}
        if all(states[name] == "inactive" for name in SILENT_WHEN_HEALTHY) and (
            states["LineageNewDeadLetterReason"] == "firing"
        ):
            return rules
        return None

    try:
        rules = until(settled, timeout=10)
    except AssertionError as exc:
        raise AssertionError(f"alert states: {_alert_states(prom)}\n{exc}") from None
    assert all(r["health"] == "ok" for r in rules.values()), rules
    new_reasons = {a["labels"]["reason"] for a in rules["LineageNewDeadLetterReason"]["alerts"]}
    assert new_reasons == {"mix_rule_external_only", "invalid_json"}
    for states in seen_states:
        active = {name for name in NEVER_ACTIVE if states[name] != "inactive"}
        assert not active, f"active during the scenario: {states}"
    print(
        f"\nprometheus: accepted={n} consumed={n + m + k} rejected={rejected} "
        f"accepted rate[30s] after each wave={rates} lag={lag} "
        f"alert states={_alert_states(prom)}"
    )
