"""Static checks of the deployable stack: deploy/ and docker-compose.yml.

No Docker engine, Kubernetes or Prometheus runs here, so these tests read the
files: they parse; every ``LINEAGE_*`` variable they set is a real setting
with a valid value; ports, probe paths and scrape targets match what the
worker serves; the files and paths they reference exist; and every metric
name in the alert rules, their promtool tests and the Grafana dashboard is
one the worker exports.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from faust.sensors import Monitor
from prometheus_client import CollectorRegistry

from processor.adapters.faust_metrics import FaustMonitorCollector
from processor.adapters.http import register_views
from processor.adapters.metrics import Metrics
from processor.cli.settings_loader import load_settings
from processor.ingest.metrics import IngestMetrics
from processor.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
PROM = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
DASHBOARD = GRAFANA / "dashboards" / "lineage-processor.json"
WEB_PORT = Settings.model_fields["web_port"].default
SETTINGS_VARS = {f"LINEAGE_{name.upper()}" for name in Settings.model_fields}


# --- loading -------------------------------------------------------------------------


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _k8s_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def _k8s(kind: str) -> dict[str, Any]:
    """The one manifest of ``kind`` for the workers (the ingest gateway's are
    checked in test_ingest_deploy.py)."""
    (doc,) = [d for d in _k8s_docs() if d["kind"] == kind and not _is_ingest(d)]
    return doc


def _is_ingest(doc: dict[str, Any]) -> bool:
    return doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "ingest"


def _compose_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _yaml(COMPOSE)["services"]
    return services


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _lineage_services() -> dict[str, dict[str, Any]]:
    """Compose services that run the processor image built from deploy/Dockerfile."""
    out = {}
    for name, svc in _compose_services().items():
        build = svc.get("build")
        if isinstance(build, dict) and build.get("dockerfile") == "deploy/Dockerfile":
            out[name] = svc
    return out


def _workers() -> dict[str, dict[str, Any]]:
    return {
        n: s for n, s in _lineage_services().items() if s.get("command", ["worker"]) == ["worker"]
    }


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in _dockerfile():
        if word == "ENV":
            parts = shlex.split(rest)
            if "=" in parts[0]:
                env.update(p.partition("=")[::2] for p in parts)
            else:
                env[parts[0]] = " ".join(parts[1:])
    return env


def _container() -> dict[str, Any]:
    containers = _k8s("Deployment")["spec"]["template"]["spec"]["containers"]
    (worker,) = [c for c in containers if c["name"] == "worker"]
    return dict(worker)


# --- every file parses ----------------------------------------------------------------

DATA_FILES = sorted(
    [p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml", ".json")] + [COMPOSE]
)


class _StrictLoader(yaml.SafeLoader):
    """Rejects a key given twice in one mapping, as docker compose and kubectl do
    (PyYAML alone keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        twice = {k for k in keys if keys.count(k) > 1 and k != "<<"}
        if twice:
            raise yaml.constructor.ConstructorError(
                None, None, f"keys given twice: {sorted(twice)}", node.start_mark
            )
        return super().construct_mapping(node, deep=deep)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"keys given twice: {keys}"
    return dict(pairs)


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_parses(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        docs = [json.loads(text, object_pairs_hook=_no_duplicate_keys)]
    else:
        docs = list(yaml.load_all(text, Loader=_StrictLoader))  # a SafeLoader
    assert any(docs), f"{path} is empty"


# --- LINEAGE_* settings -------------------------------------------------------------------


def _settings_sources() -> dict[str, dict[str, str]]:
    sources = {f"compose:{n}": _env(s) for n, s in _lineage_services().items()}
    sources["configmap"] = dict(_k8s("ConfigMap")["data"])
    secret = _k8s("Secret")
    sources["secret"] = {**secret.get("data", {}), **secret.get("stringData", {})}
    sources["Dockerfile"] = _dockerfile_env()
    sources["deployment"] = {e["name"]: e.get("value", "") for e in _container().get("env", [])}
    return sources


def test_every_lineage_variable_is_a_setting() -> None:
    unknown = {
        (where, var)
        for where, env in _settings_sources().items()
        for var in env
        if var.startswith("LINEAGE_") and var not in SETTINGS_VARS
    }
    # pydantic-settings ignores unknown LINEAGE_* variables: a typo would pass silently.
    assert not unknown


def _load(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    for var in SETTINGS_VARS:
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    return load_settings()


@pytest.mark.parametrize("service", sorted(_lineage_services()))
def test_compose_settings_load(monkeypatch: pytest.MonkeyPatch, service: str) -> None:
    env = {**_dockerfile_env(), **_env(_lineage_services()[service])}
    settings = _load(monkeypatch, env)
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.redis_url.startswith("redis://redis:")


def test_k8s_settings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    src = _settings_sources()
    settings = _load(monkeypatch, {**src["Dockerfile"], **src["configmap"], **src["secret"]})
    assert settings.web_port == WEB_PORT
    assert "LINEAGE_REDIS_URL" not in src["configmap"], "the Redis password belongs in the Secret"


def test_one_consumer_group() -> None:
    workers = _workers()
    assert len(workers) >= 2
    groups = {_env(s).get("LINEAGE_GROUP_ID", Settings().group_id) for s in workers.values()}
    assert len(groups) == 1
    deployment = _k8s("Deployment")
    assert deployment["spec"]["replicas"] >= 2
    refs = {
        kind: ref["name"]
        for item in _container()["envFrom"]
        for kind, ref in item.items()
        if kind in ("configMapRef", "secretRef")
    }
    assert refs == {
        "configMapRef": _k8s("ConfigMap")["metadata"]["name"],
        "secretRef": _k8s("Secret")["metadata"]["name"],
    }
    assert "LINEAGE_GROUP_ID" not in {e["name"] for e in _container().get("env", [])}


# --- ports and paths the worker serves ------------------------------------------------------


def served_paths() -> set[str]:
    """The paths the worker's web server registers (processor/adapters/http.py)."""
    paths: set[str] = set()

    class App:
        def page(self, path: str, **_: Any) -> Any:
            paths.add(path)
            return lambda view: view

    register_views(App(), SimpleNamespace())  # type: ignore[arg-type]
    return paths


def test_probe_and_metrics_paths_are_served() -> None:
    assert {"/healthz", "/readyz", "/metrics"} <= served_paths()


def test_dockerfile() -> None:
    steps = _dockerfile()
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) >= 2, "multi-stage build"
    last = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    runtime = steps[last:]
    assert any(w == "COPY" and "--from=" in r for w, r in runtime)
    users = [r for w, r in runtime if w == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    assert ("ENTRYPOINT", '["lineage-processor"]') in runtime
    assert ("CMD", '["worker"]') in runtime
    assert _dockerfile_env()["LINEAGE_WEB_PORT"] == str(WEB_PORT)
    assert [r for w, r in runtime if w == "EXPOSE"] == [str(WEB_PORT)]
    (check,) = [r for w, r in runtime if w == "HEALTHCHECK"]
    assert "/healthz" in check
    assert f"'{WEB_PORT}'" in check  # the default of LINEAGE_WEB_PORT
    assert "LINEAGE_WEB_PORT" in check


def test_dockerfile_installs_no_extra_it_does_not_need() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = set(pyproject["project"]["optional-dependencies"])
    installs = " ".join(r for w, r in _dockerfile() if w == "RUN" and "pip " in r)
    used = set(re.findall(r"(?:\.|lineage-processor)\[([\w,-]+)\]", installs))
    for group in used:
        for extra in group.split(","):
            assert extra in extras
            assert extra not in ("dev", "embedded"), f"the runtime image does not need [{extra}]"


def test_dockerfile_copies_exist_and_are_in_the_build_context() -> None:
    patterns = [
        p.strip()
        for p in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if p.strip() and not p.startswith("#")
    ]

    def ignored(path: str) -> bool:
        result = False
        for pattern in patterns:
            bare = pattern.lstrip("!").rstrip("/")
            if fnmatch(path, bare) or path.startswith(bare + "/"):
                result = not pattern.startswith("!")
        return result

    for word, rest in _dockerfile():
        args = [a for a in rest.split() if not a.startswith("--")]
        if word == "COPY" and "--from=" not in rest:
            for src in args[:-1]:
                assert (ROOT / src).exists(), src
                assert not ignored(src.rstrip("/")), f"{src} is excluded by .dockerignore"


def test_kubernetes_ports_and_probes() -> None:
    container = _container()
    (port,) = container["ports"]
    assert port == {"name": "http", "containerPort": WEB_PORT, "protocol": "TCP"}
    assert _k8s("ConfigMap")["data"]["LINEAGE_WEB_PORT"] == str(WEB_PORT)

    def probe(name: str) -> tuple[str, Any]:
        get = container[name]["httpGet"]
        return get["path"], get["port"]

    assert probe("readinessProbe") == ("/readyz", "http")
    assert probe("livenessProbe") == ("/healthz", "http")
    assert probe("startupProbe") == ("/healthz", "http")
    assert container["args"] == ["worker"]

    pod = _k8s("Deployment")["spec"]["template"]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(WEB_PORT)
    assert annotations["prometheus.io/path"] in served_paths()
    assert pod["spec"]["terminationGracePeriodSeconds"] >= 30

    (svc_port,) = _k8s("Service")["spec"]["ports"]
    assert svc_port["targetPort"] in ("http", WEB_PORT)
    assert svc_port["name"] == "http"
    (endpoint,) = _k8s("ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["port"] == svc_port["name"]
    assert endpoint["path"] in served_paths()


def test_kubernetes_selectors_match_the_pods() -> None:
    deployment = _k8s("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = _k8s("Service")

    def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
        return selector.items() <= labels.items()

    assert selects(deployment["spec"]["selector"]["matchLabels"], pod_labels)
    assert selects(service["spec"]["selector"], pod_labels)
    pdb = _k8s("PodDisruptionBudget")["spec"]
    assert selects(pdb["selector"]["matchLabels"], pod_labels)
    assert pdb.get("maxUnavailable") == 1 or pdb.get("minAvailable", 0) >= 1
    monitor = _k8s("ServiceMonitor")["spec"]
    assert selects(monitor["selector"]["matchLabels"], service["metadata"]["labels"])
    namespaces = {d["metadata"].get("namespace") for d in _k8s_docs() if d["kind"] != "Namespace"}
    assert namespaces == {_k8s("Namespace")["metadata"]["name"]}


def test_kubernetes_runs_as_non_root_on_a_read_only_root() -> None:
    pod = _k8s("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    context = _container()["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    # faust writes its data directory into the working directory (/app).
    workdir = [r for w, r in _dockerfile() if w == "WORKDIR"][-1]
    mounts = {m["mountPath"] for m in _container()["volumeMounts"]}
    assert {workdir, "/tmp"} <= mounts
    resources = _container()["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys() & resources["limits"].keys()


def test_compose_ports() -> None:
    host_ports = []
    for name, svc in _workers().items():
        web_port = int(_env(svc).get("LINEAGE_WEB_PORT", WEB_PORT))
        (mapping,) = svc["ports"]
        host, container = str(mapping).rsplit(":", 1)
        assert int(container) == web_port, name
        host_ports.append(host)
    assert len(set(host_ports)) == len(host_ports)


def test_prometheus_scrapes_every_compose_worker() -> None:
    config = _yaml(PROM / "prometheus.yml")
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "lineage-processor"]
    assert job.get("metrics_path", "/metrics") in served_paths()
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    expected = {
        f"{name}:{_env(svc).get('LINEAGE_WEB_PORT', WEB_PORT)}" for name, svc in _workers().items()
    }
    assert targets == expected


# --- files and paths referenced --------------------------------------------------------------


def _compose_mounts(service: str) -> dict[str, Path]:
    """Container path -> host path of the service's bind mounts."""
    out = {}
    for volume in _compose_services()[service].get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith("."):
            out[target] = ROOT / source
    return out


def _host_path(service: str, container_path: str) -> Path:
    for target, source in _compose_mounts(service).items():
        if container_path == target or container_path.startswith(target + "/"):
            return source / container_path[len(target) :].lstrip("/")
    raise AssertionError(f"{container_path} is not mounted into {service}")


def test_compose_references_exist() -> None:
    for name, svc in _compose_services().items():
        build = svc.get("build")
        if isinstance(build, dict):
            assert (ROOT / build["context"]).is_dir(), name
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
        for target, source in _compose_mounts(name).items():
            assert source.exists(), f"{name}: {source} (mounted on {target})"
    services = _compose_services()
    for name, svc in services.items():
        deps = svc.get("depends_on", [])
        assert set(deps) <= set(services), name


def test_prometheus_loads_the_rules_in_compose() -> None:
    config = _yaml(PROM / "prometheus.yml")
    for rule_file in config["rule_files"]:
        assert (PROM / rule_file).is_file()
        in_container = f"/etc/prometheus/{rule_file}"
        assert _host_path("prometheus", in_container) == PROM / rule_file
    assert _host_path("prometheus", "/etc/prometheus/prometheus.yml") == PROM / "prometheus.yml"
    tests = _yaml(PROM / "alerts_test.yml")
    assert all((PROM / f).is_file() for f in tests["rule_files"])


def test_grafana_provisioning_in_compose() -> None:
    provisioning = _host_path("grafana", "/etc/grafana/provisioning")
    assert provisioning == GRAFANA / "provisioning"
    (provider,) = _yaml(provisioning / "dashboards" / "lineage.yml")["providers"]
    assert (_host_path("grafana", provider["options"]["path"]) / DASHBOARD.name).is_file()
    home = _env(_compose_services()["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert _host_path("grafana", home) == DASHBOARD
    (source,) = _yaml(provisioning / "datasources" / "prometheus.yml")["datasources"]
    host, port = re.fullmatch(r"http://([\w-]+):(\d+)", source["url"]).groups()  # type: ignore[union-attr]
    assert any(str(p).endswith(f":{port}") for p in _compose_services()[host]["ports"])


def _kustomizations() -> Iterator[Path]:
    yield from K8S.rglob("kustomization.yaml")


@pytest.mark.parametrize("path", list(_kustomizations()), ids=lambda p: str(p.relative_to(ROOT)))
def test_kustomization_resources_exist(path: Path) -> None:
    for resource in _yaml(path)["resources"]:
        target = (path.parent / resource).resolve()
        assert target.is_file() or (target / "kustomization.yaml").is_file(), resource


def test_kustomization_lists_every_manifest() -> None:
    listed = {(K8S / r).resolve() for r in _yaml(K8S / "kustomization.yaml")["resources"]}
    listed |= {
        (K8S / "servicemonitor" / r).resolve()
        for r in _yaml(K8S / "servicemonitor" / "kustomization.yaml")["resources"]
    }
    manifests = {p.resolve() for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert manifests <= listed


# --- metric names ------------------------------------------------------------------------------


def exported_metric_names() -> set[str]:
    """Every series name a worker's or an ingest gateway's /metrics can show, plus
    Prometheus's ``up``."""
    metrics = Metrics(CollectorRegistry())
    metrics.registry.register(FaustMonitorCollector(SimpleNamespace(monitor=Monitor())))
    ingest = IngestMetrics()
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
        "gauge": ("",),
        "info": ("_info",),
    }
    names = {"up"}
    for family in [*metrics.registry.collect(), *ingest.registry.collect()]:
        names |= {family.name + s for s in suffixes[family.type]}
    return names


_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
_KEYWORDS |= {"and", "or", "unless", "atan2", "inf", "nan"}


def promql_metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions
    (followed by ``(``), keywords, label names, durations or numbers."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # ranges and subqueries
    grouping = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)"
    text = re.sub(grouping, " ", text)  # label lists
    names = set()
    for m in re.finditer(r"(?<![\w.$])[A-Za-z_:][\w:]*", text):
        after = text[m.end() :].lstrip()
        if not after.startswith("(") and m.group().lower() not in _KEYWORDS:
            names.add(m.group())
    return names


def unknown_metrics(exprs: list[str]) -> dict[str, set[str]]:
    exported = exported_metric_names()
    found = {e: promql_metric_names(e) - exported for e in exprs}
    return {e: names for e, names in found.items() if names}


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            "sum by (job, topic) (deriv(lineage_consumer_lag_messages[10m])) > 0",
            {"lineage_consumer_lag_messages"},
        ),
        (
            'histogram_quantile(0.99, sum by (le) (rate(lineage_batch_seconds_bucket{job=~"$job"}'
            "[$__rate_interval])))",
            {"lineage_batch_seconds_bucket"},
        ),
        ('absent(up{job="lineage-processor"} == 1)', {"up"}),
        ("a offset 10m unless on (job) group_left (reason) b * 1e3 > bool 0.5", {"a", "b"}),
        ("sum(x) by (le) / ignoring(instance) y[5m:1m]", {"x", "y"}),
        ('label_replace(up, "dst", "lineage_not_a_metric", "src", "(.*)")', {"up"}),
        ("max_over_time(lineage_generation[1d] offset -5m) + Inf + NaN", {"lineage_generation"}),
    ],
)
def test_promql_metric_names(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


def test_a_made_up_or_misspelt_metric_is_caught() -> None:
    made_up = 'sum by (reason) (increase(lineage_made_up_total{reason="x"}[1d] offset 10m)) > 0'
    no_suffix = "rate(lineage_events_accepted[5m])"  # counters are exported as *_total
    assert unknown_metrics([made_up, no_suffix, "rate(lineage_events_accepted_total[5m])"]) == {
        made_up: {"lineage_made_up_total"},
        no_suffix: {"lineage_events_accepted"},
    }


def _alert_rules() -> list[dict[str, Any]]:
    groups = _yaml(PROM / "alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_alert_rules_name_only_exported_metrics() -> None:
    exprs = [rule["expr"] for rule in _alert_rules()]
    assert exprs
    assert not unknown_metrics(exprs)


def test_promtool_tests_name_only_exported_metrics() -> None:
    tests = _yaml(PROM / "alerts_test.yml")["tests"]
    series = [s["series"].split("{")[0] for t in tests for s in t["input_series"]]
    exprs = [e["expr"] for t in tests for e in t.get("promql_expr_test", [])]
    assert series
    assert not unknown_metrics(series + exprs)


def _dashboard_exprs() -> list[str]:
    exprs = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr":
                    exprs.append(value)
                elif key == "definition":  # a variable's query: label_values(selector, label)
                    exprs.extend(re.findall(r"label_values\((.*),\s*\w+\)", value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(DASHBOARD.read_text(encoding="utf-8")))
    return exprs


def test_dashboard_names_only_exported_metrics() -> None:
    exprs = _dashboard_exprs()
    assert len(exprs) > 20
    assert not unknown_metrics(exprs)


def test_dashboard_covers_what_an_operator_watches() -> None:
    used = set().union(*map(promql_metric_names, _dashboard_exprs()))
    assert {
        "lineage_events_accepted_total",
        "lineage_events_duplicate_total",
        "lineage_events_ignored_total",
        "lineage_events_rejected_total",
        "lineage_consumer_lag_messages",
        "lineage_graph_nodes",
        "lineage_graph_edges",
        "lineage_batch_seconds_bucket",
        "lineage_redis_seconds_bucket",
        "lineage_redis_errors_total",
        "lineage_dependency_down",
        "lineage_rebuild_remaining_messages",
    } <= used
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


# --- alert rules: labels, annotations, unit tests ------------------------------------------------


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    for rule in _alert_rules():
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        assert annotations["runbook"] == f"docs/operations.md#{rule['alert'].lower()}"


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    cases = [c for t in _yaml(PROM / "alerts_test.yml")["tests"] for c in t["alert_rule_test"]]
    for rule in _alert_rules():
        mine = [c for c in cases if c["alertname"] == rule["alert"]]
        assert any(c["exp_alerts"] for c in mine), f"{rule['alert']}: no firing case"
        assert any(not c["exp_alerts"] for c in mine), f"{rule['alert']}: no silent case"


def _github_anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_runbook_anchors_exist_in_the_operations_doc() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    anchors = {_github_anchor(h) for h in re.findall(r"^#+ (.+)$", doc, flags=re.MULTILINE)}
    missing = {
        rule["annotations"]["runbook"]
        for rule in _alert_rules()
        if rule["annotations"]["runbook"].split("#", 1)[1] not in anchors
    }
    assert not missing, "docs/operations.md needs a section per alert (under Alerts)"
