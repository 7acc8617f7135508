"""Static checks of the ingest gateway's deploy files: its Kubernetes Deployment and
Service, its compose service and scrape job, its alert rules (runbooks in
docs/ingest.md) and its dashboard panels, against what the gateway serves and exports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from processor.ingest.main import build_gateway
from processor.ingest.metrics import IngestMetrics
from processor.settings import Settings
from tests.unit.test_deploy_files import (
    _compose_services,
    _dashboard_exprs,
    _github_anchor,
    _is_ingest,
    _k8s,
    _k8s_docs,
    promql_metric_names,
    unknown_metrics,
)

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
PORT = Settings.model_fields["ingest_port"].default


def _ingest(kind: str) -> dict[str, Any]:
    (doc,) = [d for d in _k8s_docs() if d["kind"] == kind and _is_ingest(d)]
    return doc


def _served() -> set[str]:
    return set(build_gateway(Settings()).dispatcher().paths)


def test_the_gateway_serves_probes_metrics_and_the_four_routes() -> None:
    assert _served() == {
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/lineage",
        "/api/v1/lineage/batch",
        "/api/v2/lineage/external-lineage",
    }


def test_kubernetes_deployment_and_service() -> None:
    deployment = _ingest("Deployment")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["args"] == ["ingest"]
    (port,) = container["ports"]
    assert port == {"name": "http", "containerPort": PORT, "protocol": "TCP"}
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    assert env.get("LINEAGE_INGEST_PORT", str(PORT)) == str(PORT)
    # Replicas scale the gateway in Kubernetes, one process a pod (docs/ingest.md).
    assert env["LINEAGE_INGEST_PROCESSES"] == "1"
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(PORT)
    assert pod["metadata"]["annotations"]["prometheus.io/path"] in _served()
    # The same settings as the workers: topics, rule, bounds and tokens.
    worker = _k8s("Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == worker["envFrom"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()

    service = _ingest("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    (svc_port,) = service["spec"]["ports"]
    assert svc_port == {"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}
    # The workers' Service does not send API traffic to the gateways.
    assert not _k8s("Service")["spec"]["selector"].items() <= labels.items()
    # The ServiceMonitor scrapes the gateways too (its port name is "http").
    monitor = _k8s("ServiceMonitor")["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


def test_compose_service_and_scrape_job() -> None:
    services = _compose_services()
    (name,) = [n for n, s in services.items() if s.get("command") == ["ingest"]]
    assert services[name]["ports"] == [f"{PORT}:{PORT}"]
    assert f":{PORT}/healthz" in " ".join(services[name]["healthcheck"]["test"])
    config = yaml.safe_load((PROM / "prometheus.yml").read_text(encoding="utf-8"))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "lineage-ingest"]
    assert job["metrics_path"] in _served()
    assert [t for sc in job["static_configs"] for t in sc["targets"]] == [f"{name}:{PORT}"]
    assert "ingest_alerts.yml" in config["rule_files"]


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROM / "ingest_alerts.yml").read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_alerts_name_exported_metrics_and_have_runbooks_in_docs() -> None:
    rules = _rules()
    assert {r["alert"] for r in rules} == {
        "LineageIngestServerErrors",
        "LineageIngestPublishErrors",
    }
    assert not unknown_metrics([r["expr"] for r in rules])
    doc = (ROOT / "docs" / "ingest.md").read_text(encoding="utf-8")
    anchors = {_github_anchor(h) for h in re.findall(r"^#+ (.+)$", doc, flags=re.MULTILINE)}
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
        runbook = rule["annotations"]["runbook"]
        assert runbook == f"docs/ingest.md#{rule['alert'].lower()}"
        assert runbook.split("#")[1] in anchors


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    tests = yaml.safe_load((PROM / "ingest_alerts_test.yml").read_text(encoding="utf-8"))
    assert tests["rule_files"] == ["ingest_alerts.yml"]
    cases = [c for t in tests["tests"] for c in t["alert_rule_test"]]
    series = [s["series"].split("{")[0] for t in tests["tests"] for s in t["input_series"]]
    assert not unknown_metrics(series)
    for rule in _rules():
        mine = [c for c in cases if c["alertname"] == rule["alert"]]
        assert any(c["exp_alerts"] for c in mine), rule["alert"]
        assert any(not c["exp_alerts"] for c in mine), rule["alert"]


def test_dashboard_shows_every_gateway_metric() -> None:
    used = set().union(*map(promql_metric_names, _dashboard_exprs()))
    families = {f.name for f in IngestMetrics().registry.collect()}
    shown = {name for name in used if name.startswith("lineage_ingest_")}
    assert {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in shown} == families
