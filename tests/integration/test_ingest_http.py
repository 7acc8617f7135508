"""The gateway's contract over HTTP on the real broker (docs/design.md section 8a):
every 4xx case, the privilege matrix on every route, the batch answer, and
bodies too large (plain, streamed, a gzip bomb) refused without being read whole.

One gateway serves the module, with small bounds so that oversized bodies are
cheap to make: 64 KiB for one event, 256 KiB and 20 events for a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import secrets
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest

from processor.adapters.kafka_admin import create_topics
from tests.events import dataset, raw_event
from tests.integration.ingest_harness import TOKENS, TOKENS_SETTING, GatewayProcess
from tests.integration.kafka_utils import read_topic

MAX_EVENT = 64 * 1024
EVENT = "/api/v1/lineage"
BATCH = "/api/v1/lineage/batch"
EXTERNAL = "/api/v2/lineage/external-lineage"


@pytest.fixture(scope="module")
def gateway(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    suffix = secrets.token_hex(4)
    events, control = f"ingest-events.{suffix}", f"ingest-control.{suffix}"
    asyncio.run(create_topics(broker, [events, control], 1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env.update(
        LINEAGE_KAFKA_BOOTSTRAP=broker,
        LINEAGE_INPUT_TOPICS=events,
        LINEAGE_CONTROL_TOPIC=control,
        LINEAGE_HTTP_TOKENS=TOKENS_SETTING,
        LINEAGE_MAX_EVENT_BYTES=str(MAX_EVENT),
        LINEAGE_INGEST_MAX_BATCH_BYTES=str(256 * 1024),
        LINEAGE_INGEST_MAX_BATCH_EVENTS="20",
    )
    log = Path(tmp_path_factory.mktemp("ingest")) / "gateway.log"
    process = GatewayProcess(env, log)
    process.topics = (events, control)  # type: ignore[attr-defined]
    process.start()
    try:
        process.wait_ready(timeout=60)
        yield process
    finally:
        process.kill()


def _event(tag: str, **fields: Any) -> bytes:
    return raw_event(job={"namespace": "tests", "name": tag}, **fields)


# --- the privilege matrix ------------------------------------------------------------------


def _request(route: str, tag: str) -> tuple[str, str, bytes | None]:
    if route == "delete":
        return "DELETE", f"{EXTERNAL}?sourceNamespace=s3://x&sourceName={tag}", None
    return "POST", route, (b"[" + _event(tag) + b"]" if route == BATCH else _event(tag))


ALLOWED = {  # route -> tokens that hold its privilege, and the success status
    EVENT: ({"ingest", "both"}, 201),
    BATCH: ({"ingest", "both"}, 200),
    EXTERNAL: ({"ingest", "both"}, 200),
    "delete": ({"delete", "both"}, 200),
}


@pytest.mark.parametrize("route", list(ALLOWED))
def test_privilege_matrix(gateway: GatewayProcess, route: str) -> None:
    allowed, ok = ALLOWED[route]
    method, path, body = _request(route, f"matrix-{secrets.token_hex(3)}")
    status, headers, _ = gateway.request(method, path, body)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    bad = {"Authorization": "Bearer not-a-configured-token-000"}
    assert gateway.request(method, path, body, headers=bad)[0] == 401
    for name in TOKENS:
        status = gateway.request(method, path, body, token=name)[0]
        assert status == (ok if name in allowed else 403), name
    for public in ("/healthz", "/readyz", "/metrics"):
        assert gateway.request("GET", public)[0] == 200
    # An unknown path tells an anonymous caller nothing; with a token it is a 404.
    assert gateway.request("GET", "/api/v1/nothing-here")[0] == 401
    assert gateway.request("GET", "/api/v1/nothing-here", token="read")[0] == 404
    assert gateway.request("GET", EVENT, token="ingest")[0] == 405


def test_the_worker_honours_read_tokens(stack: Any) -> None:
    worker = stack.start_worker(
        LINEAGE_HTTP_TOKENS=TOKENS_SETTING, LINEAGE_HTTP_TOKEN="legacy-read-token-0123"
    )

    def status(token: str | None) -> int:
        import urllib.error
        import urllib.request

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        req = urllib.request.Request(worker.url + "/api/v1/graph/snapshot", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    assert status(None) == 401
    assert status("not-a-configured-token-000") == 401
    assert status(TOKENS["read"]) == 200
    assert status("legacy-read-token-0123") == 200
    assert status(TOKENS["ingest"]) == 403
    assert status(TOKENS["both"]) == 403
    assert worker.http_get("/metrics")[0] == 200


# --- 4xx: refused, with the reason, and never published ---------------------------------------


def _refused(gateway: GatewayProcess, body: bytes, headers: dict[str, str] | None = None) -> Any:
    status, answer = gateway.call("POST", EVENT, body, headers=headers, token="ingest")
    return status, answer["reason"], answer["error"]


def test_four_hundreds_of_the_single_event_routes(gateway: GatewayProcess) -> None:
    events_topic = gateway.topics[0]  # type: ignore[attr-defined]
    before = len(read_topic(gateway.env["LINEAGE_KAFKA_BOOTSTRAP"], events_topic))
    bad_name = _event("bad-name", outputs=[dataset("snowflake://acme", "")])
    deep = b'{"a":' * 70 + b"1" + b"}" * 70
    cases = [
        (b"[" + _event("array") + b"]", None, 400, "invalid_json", "an array"),
        (b"not json", None, 400, "invalid_json", ""),
        (deep, None, 400, "invalid_json", "nesting deeper than 64"),
        (b"", None, 400, "empty_body", ""),
        (b"  \n", None, 400, "empty_body", ""),
        (_event("text"), {"Content-Type": "text/plain"}, 400, "unsupported_content_type", ""),
        (bad_name, None, 400, "invalid_event", "outputs[0].name"),
        (_event("no-type", eventType=None), None, 400, "invalid_event", "eventType"),
        (_event("br"), {"Content-Encoding": "br"}, 400, "unsupported_encoding", ""),
        (b"\x1f\x8b not gzip", {"Content-Encoding": "gzip"}, 400, "invalid_gzip", ""),
        (gzip.compress(_event("cut"))[:-12], {"Content-Encoding": "gzip"}, 400, "invalid_gzip", ""),
        (b" " * (MAX_EVENT + 1), None, 413, "too_large", str(MAX_EVENT)),
    ]
    for body, headers, status, reason, words in cases:
        got = _refused(gateway, body, headers)
        assert got[:2] == (status, reason), (body[:40], got)
        assert words in got[2]
        # Snowflake's path runs the same checks.
        answer = gateway.call("POST", EXTERNAL, body, headers=headers, token="ingest")
        assert (answer[0], answer[1]["reason"]) == (status, reason)
    after = read_topic(gateway.env["LINEAGE_KAFKA_BOOTSTRAP"], events_topic)
    assert len(after) == before
    metrics = gateway.metrics()
    assert (
        metrics[("lineage_ingest_events_rejected_total", frozenset({("reason", "invalid_event")}))]
        >= 4
    )


def test_four_hundreds_of_the_batch_route(gateway: GatewayProcess) -> None:
    def post(body: bytes) -> tuple[int, Any]:
        return gateway.call("POST", BATCH, body, token="ingest")

    assert post(_event("object"))[1]["reason"] == "invalid_json"
    assert post(_event("object"))[0] == 400
    assert post(b"[1,")[0] == 400
    too_many = b"[" + b",".join(_event(f"many-{i}") for i in range(21)) + b"]"
    status, answer = post(too_many)
    assert (status, answer["reason"]) == (413, "too_many_events")
    big = b"[" + b" " * (256 * 1024) + b"]"
    status, answer = post(big)
    assert (status, answer["reason"]) == (413, "too_large")
    assert post(b"[]") == (
        200,
        {
            "status": "success",
            "summary": {
                "received": 0,
                "successful": 0,
                "failed": 0,
                "retriable": 0,
                "non_retriable": 0,
            },
            "failed_events": [],
        },
    )


def test_batch_publishes_the_good_and_lists_the_bad(gateway: GatewayProcess) -> None:
    bootstrap = gateway.env["LINEAGE_KAFKA_BOOTSTRAP"]
    events_topic = gateway.topics[0]  # type: ignore[attr-defined]
    before = len(read_topic(bootstrap, events_topic))
    tag = secrets.token_hex(3)
    good = [orjson.loads(_event(f"batch-{tag}-{i}")) for i in range(3)]
    oversized = orjson.loads(_event("huge", producer="x" * MAX_EVENT))
    items = [good[0], 7, good[1], {"eventType": "COMPLETE"}, oversized, good[2]]
    status, answer = gateway.call("POST", BATCH, orjson.dumps(items), token="ingest")
    assert status == 200
    assert answer["status"] == "partial_success"
    assert answer["summary"] == {
        "received": 6,
        "successful": 3,
        "failed": 3,
        "retriable": 0,
        "non_retriable": 3,
    }
    assert [(f["index"], f["reason"], f["retriable"]) for f in answer["failed_events"]] == [
        (1, "invalid_json", False),
        (3, "invalid_event", False),
        (4, "too_large", False),
    ]
    records = read_topic(bootstrap, events_topic, expect=before + 3)[before:]
    assert [orjson.loads(r.value or b"") for r in records] == good
    assert [r.key for r in records] == [f"run:tests/batch-{tag}-{i}".encode() for i in range(3)]


def test_bad_deletes(gateway: GatewayProcess) -> None:
    def delete(query: str, token: str = "delete") -> tuple[int, Any]:
        return gateway.call("DELETE", f"{EXTERNAL}?{query}", token=token)

    assert delete("")[0] == 400
    assert delete("")[1]["reason"] == "invalid_control"
    assert delete("sourceNamespace=s3://x")[0] == 400
    assert "sourceName" in delete("sourceNamespace=s3://x")[1]["error"]
    assert delete("targetName=t")[0] == 400
    assert delete("sourceNamespace=s3://x&sourceName=a%00b")[0] == 400
    status, answer = delete(
        "sourceNamespace=s3://x&sourceName=a&sourceDatasetType=TABLE"
        "&targetNamespace=snowflake://acme&targetName=T&targetDatasetType=VIEW"
    )
    assert status == 200
    assert answer["delete"]["source"] == {"namespace": "s3://x", "name": "a"}
    assert answer["delete"]["target"] == {"namespace": "snowflake://acme", "name": "T"}


# --- bodies too large, refused without reading them whole -------------------------------------


def _raw_exchange(gateway: GatewayProcess, head: bytes, chunks: Iterator[bytes]) -> tuple[int, int]:
    """Send ``head`` then ``chunks`` until the gateway answers; (status, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", gateway.web_port), timeout=10)
    sent = 0
    try:
        sock.sendall(head)
        sock.setblocking(False)
        answer = b""
        for chunk in chunks:
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            if answer:
                break
            try:
                sock.sendall(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        sock.settimeout(10)
        while b"\r\n" not in answer:
            answer += sock.recv(65536)
    finally:
        sock.close()
    return int(answer.split(b" ", 2)[1]), sent


def _head(extra: str) -> bytes:
    return (
        f"POST {EVENT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {TOKENS['ingest']}\r\n{extra}\r\n"
    ).encode()


def test_an_oversized_content_length_is_refused_before_its_body(gateway: GatewayProcess) -> None:
    status, sent = _raw_exchange(gateway, _head("Content-Length: 104857600\r\n"), iter([b""]))
    assert status == 413
    assert sent == 0


def test_a_streamed_body_is_cut_at_the_bound(gateway: GatewayProcess) -> None:
    chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"  # 16 KiB per HTTP chunk, never a last one

    def forever() -> Iterator[bytes]:
        import time

        for _ in range(10_000):  # 160 MiB at most; the answer comes after ~64 KiB
            yield chunk
            time.sleep(0.001)

    status, sent = _raw_exchange(gateway, _head("Transfer-Encoding: chunked\r\n"), forever())
    assert status == 413
    assert sent < 4 * 1024 * 1024


def test_a_gzip_bomb_is_refused_without_inflating_it(gateway: GatewayProcess) -> None:
    # 64 MiB of zeros in about 64 KB of gzip, inside the compressed bound.
    deflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(deflater.compress(b"\0" * (1 << 20)) for _ in range(64)) + deflater.flush()
    assert len(bomb) < MAX_EVENT + MAX_EVENT // 100 + 1024
    rss = psutil.Process(gateway.pid).memory_info().rss
    status, answer = gateway.call(
        "POST", EVENT, bomb, headers={"Content-Encoding": "gzip"}, token="ingest"
    )
    assert (status, answer["reason"]) == (413, "too_large")
    assert "decompressed" in answer["error"]
    assert psutil.Process(gateway.pid).memory_info().rss - rss < 32 * 1024 * 1024
