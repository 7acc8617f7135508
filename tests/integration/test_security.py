"""Security basics against a real broker and a password-protected Redis: the
worker folds through an authenticated Redis connection, a wrong password stops
it at start-up in one line, the HTTP token guards every route but the public
ones, and no secret shows in the log, on /metrics or in a dead letter. A Redis
that speaks TLS only, with client certificates, serves a worker and the
commands through the ``LINEAGE_REDIS_TLS_*`` settings."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from processor.devstack.services import RunningService
from tests.events import ol_event
from tests.integration.conftest import Stack, expected_hash
from tests.integration.harness import WorkerProcess
from tests.integration.kafka_utils import produce, read_topic
from tests.redis_tls import TlsRedis, find_tls_redis, make_pki

pytestmark = pytest.mark.integration

PROTECTED = [
    "/api/v1/graph/snapshot?hash=1",
    "/api/v1/graph/downstream?namespace=postgres://db&name=public.orders",
    "/api/v1/datasets?q=orders",
    "/api/v1/lineage?nodeId=dataset:postgres://db:public.orders",
    "/openapi.json",
    "/no/such/route",
]
PUBLIC = ["/metrics", "/healthz", "/readyz", "/"]


def request(
    worker: WorkerProcess, path: str, token: str | None = None, *, scheme: str = "Bearer"
) -> tuple[int, dict[str, str], bytes]:
    """``GET path`` with an optional ``Authorization`` header: status, headers, body."""
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    req = urllib.request.Request(worker.url + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return int(response.status), dict(response.headers), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), dict(exc.headers), bytes(exc.read())


def _host_port(service: RunningService) -> str:
    parts = urlsplit(service.address)
    return f"{parts.hostname}:{parts.port}"


def test_a_worker_on_a_password_protected_redis_behind_a_token_leaks_no_secret(
    stack: Stack, redis_factory: Callable[..., RunningService]
) -> None:
    redis_password = "redis-pw-" + secrets.token_hex(8)
    stale_url_password = "stale-url-pw-" + secrets.token_hex(8)
    token = "http-token-" + secrets.token_hex(16)
    redis = redis_factory(password=redis_password)
    # The URL carries an outdated password: LINEAGE_REDIS_PASSWORD must win.
    worker = stack.start_worker(
        LINEAGE_REDIS_URL=f"redis://:{stale_url_password}@{_host_port(redis)}/0",
        LINEAGE_REDIS_PASSWORD=redis_password,
        LINEAGE_HTTP_TOKEN=token,
        LINEAGE_LOG_LEVEL="debug",
    )

    good = [
        ol_event(job=("dbt", f"job{i}"), outputs=[("snowflake://acme", f"RAW.T{i}")])
        for i in range(20)
    ]
    bad = b"{not json"
    produce(stack.bootstrap, stack.input_topic, [(b"k", v) for v in [*good, bad]])

    want = expected_hash(good)

    def snapshot_hash() -> str:
        status, _, body = request(worker, "/api/v1/graph/snapshot?hash=1", token)
        return str(json.loads(body)["sha256"]) if status == 200 else ""

    worker.wait_for(lambda: snapshot_hash() == want, timeout=90)
    worker.wait_for(lambda: worker.metric("lineage_events_rejected_total") == 1, timeout=30)

    # The token: every protected route refuses no token, a wrong one and
    # another scheme, and answers with the right one.
    for path in PROTECTED:
        for sent, scheme in ((None, "Bearer"), ("wrong-" + token, "Bearer"), (token, "Basic")):
            status, headers, body = request(worker, path, sent, scheme=scheme)
            assert status == 401, (path, sent, scheme, status)
            assert headers["WWW-Authenticate"].startswith("Bearer"), path
            assert "error" in json.loads(body), path
        status, _, _ = request(worker, path, token)
        assert status == (404 if path == "/no/such/route" else 200), (path, status)
    status, _, _ = request(worker, PROTECTED[0], token, scheme="bearer")
    assert status == 200, "the scheme is case-insensitive"
    for path in PUBLIC:
        status, _, _ = request(worker, path)
        assert status == 200, (path, status)

    # Bounded work: a long search text is refused by name, a longer request
    # line by aiohttp (8190 bytes) before any handler runs.
    status, _, body = request(worker, "/api/v1/datasets?q=" + "x" * 1001, token)
    assert (status, json.loads(body)["parameter"]) == (400, "q")
    status, _, _ = request(worker, "/api/v1/datasets?q=" + "x" * 9000, token)
    assert status == 400

    # No secret anywhere an operator or a scraper can read.
    dead = read_topic(stack.bootstrap, stack.dlq_topic, expect=1)
    assert [r.headers["lineage.reason"] for r in dead] == ["invalid_json"]
    metrics = worker.metrics_text()
    code = worker.terminate()
    assert code == 0, worker.describe()
    log = worker.log_path.read_text(errors="replace")
    assert "graph in redis://:***@" in log, "the banner shows the URL, masked"
    for secret in (redis_password, stale_url_password, token):
        assert secret not in log
        assert secret not in metrics
        for record in dead:
            assert all(secret not in value for value in record.headers.values())


def test_a_wrong_redis_password_stops_the_worker_at_start_up_in_one_line(
    stack: Stack, redis_factory: Callable[..., RunningService]
) -> None:
    redis = redis_factory(password="right-" + secrets.token_hex(8))
    wrong = "wrong-" + secrets.token_hex(8)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env.update(
        stack.env(LINEAGE_REDIS_URL=f"redis://:{wrong}@{_host_port(redis)}/0"),
        LINEAGE_WEB_PORT="0",
    )
    done = subprocess.run(
        [sys.executable, "-m", "processor", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "refused the credentials" in lines[0]
    assert "redis://:***@" in lines[0]
    assert wrong not in done.stderr + done.stdout
    # An outage of credentials is not bad input: nothing was dead-lettered.
    assert read_topic(stack.bootstrap, stack.dlq_topic, timeout=2.0) == []


def test_the_commands_use_the_redis_password_setting(
    stack: Stack, redis_factory: Callable[..., RunningService]
) -> None:
    password = "cli-pw-" + secrets.token_hex(8)
    redis = redis_factory(password=password)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env.update(
        stack.env(
            LINEAGE_REDIS_URL=f"redis://{_host_port(redis)}/0",
            LINEAGE_REDIS_PASSWORD=password,
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "processor", "snapshot", "--hash"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected_hash([])


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TlsRedis]:
    """A TLS-only Redis with a password and client certificates (Debian's 7.0)."""
    server = TlsRedis(
        find_tls_redis(), make_pki(tmp_path / "pki"), "tls-pw-" + secrets.token_hex(8), tmp_path
    )
    yield server
    server.stop()


def test_a_worker_folds_through_redis_over_mutual_tls(stack: Stack, tls_redis: TlsRedis) -> None:
    pki = tls_redis.pki
    tls = {
        "LINEAGE_REDIS_URL": tls_redis.url,
        "LINEAGE_REDIS_PASSWORD": tls_redis.password,
        "LINEAGE_REDIS_TLS_CA_FILE": str(pki.ca),
        "LINEAGE_REDIS_TLS_CERT_FILE": str(pki.client_cert),
        "LINEAGE_REDIS_TLS_KEY_FILE": str(pki.client_key),
    }
    worker = stack.start_worker(**tls)
    good = [
        ol_event(job=("dbt", f"tls{i}"), outputs=[("snowflake://acme", f"RAW.TLS{i}")])
        for i in range(10)
    ]
    produce(stack.bootstrap, stack.input_topic, [(b"k", v) for v in good])
    want = expected_hash(good)
    worker.wait_for(
        lambda: worker.get_json("/api/v1/graph/snapshot?hash=1")["sha256"] == want, timeout=90
    )

    def command(**extra: str | None) -> subprocess.CompletedProcess[str]:
        chosen = {k: v for k, v in {**tls, **extra}.items() if v is not None}
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
        env.update(stack.env(**chosen))
        return subprocess.run(
            [sys.executable, "-m", "processor", "snapshot", "--hash"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    done = command()
    assert (done.returncode, done.stdout.strip()) == (0, want), done.stderr
    # Without the private CA, only LINEAGE_REDIS_TLS_VERIFY=false connects.
    done = command(LINEAGE_REDIS_TLS_CA_FILE=None, LINEAGE_REDIS_TLS_VERIFY="false")
    assert (done.returncode, done.stdout.strip()) == (0, want), done.stderr
