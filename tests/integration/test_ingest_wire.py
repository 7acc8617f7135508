"""HTTP/1.1 on the gateway's own connections, on the real broker: keep-alive,
pipelined requests answered in order, ``Expect: 100-continue``, a refused
request's body skipped on a connection that stays open, ``Connection: close``
and HTTP/1.0, malformed requests. Every exchange is raw bytes on a socket, so
what the gateway writes is what is checked."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from processor.adapters.kafka_admin import create_topics
from tests.events import raw_event
from tests.integration.ingest_harness import TOKENS, TOKENS_SETTING, GatewayProcess
from tests.integration.kafka_utils import read_topic

EVENT = "/api/v1/lineage"


@pytest.fixture(scope="module")
def gateway(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    events = f"ingest-wire.{secrets.token_hex(4)}"
    asyncio.run(create_topics(broker, [events], 1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env.update(
        LINEAGE_KAFKA_BOOTSTRAP=broker,
        LINEAGE_INPUT_TOPICS=events,
        LINEAGE_HTTP_TOKENS=TOKENS_SETTING,
        LINEAGE_INGEST_PROCESSES="1",
    )
    process = GatewayProcess(env, Path(tmp_path_factory.mktemp("wire")) / "gateway.log")
    process.topics = (events,)  # type: ignore[attr-defined]
    process.start()
    try:
        process.wait_ready(timeout=60)
        yield process
    finally:
        process.kill()


def _post(
    body: bytes, extra: str = "", token: str | None = "ingest", version: str = "1.1"
) -> bytes:
    auth = f"Authorization: Bearer {TOKENS[token]}\r\n" if token else ""
    return (
        f"POST {EVENT} HTTP/{version}\r\nHost: x\r\nContent-Type: application/json\r\n{auth}"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


class _Client:
    """One connection; ``answer()`` reads one response (status, headers, body)."""

    def __init__(self, gateway: GatewayProcess) -> None:
        self.sock = socket.create_connection(("127.0.0.1", gateway.web_port), timeout=15)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            assert self._fill(), f"closed before an answer: {self.buffer!r}"
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            assert self._fill(), "closed inside a body"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split(" ")[1]), headers, body

    def closed(self) -> bool:
        """True when the gateway closed the connection (and sent nothing more)."""
        return not self.buffer and not self._fill()

    def close(self) -> None:
        self.sock.close()


def _event(tag: str) -> bytes:
    return raw_event(job={"namespace": "wire", "name": tag})


def _on_topic(gateway: GatewayProcess) -> list[bytes]:
    topic = gateway.topics[0]  # type: ignore[attr-defined]
    return [r.value or b"" for r in read_topic(gateway.env["LINEAGE_KAFKA_BOOTSTRAP"], topic)]


def test_keep_alive_and_pipelined_requests_answered_in_order(gateway: GatewayProcess) -> None:
    client = _Client(gateway)
    try:
        tags = [f"keep-{secrets.token_hex(3)}-{i}" for i in range(3)]
        for tag in tags:  # one after the other on one connection
            client.send(_post(_event(tag)))
            status, headers, body = client.answer()
            assert (status, headers["connection"]) == (201, "keep-alive")
            assert orjson.loads(body) == {"status": "published"}
            assert headers["content-type"] == "application/json"
        # Three requests in one write: the first waits for the broker, the second is
        # refused at once, yet the answers come in the order of the requests.
        first, third = f"pipe-{secrets.token_hex(3)}-a", f"pipe-{secrets.token_hex(3)}-c"
        client.send(_post(_event(first)) + _post(b"[1, 2]") + _post(_event(third)))
        answers = [client.answer() for _ in range(3)]
        assert [a[0] for a in answers] == [201, 400, 201]
        assert orjson.loads(answers[1][2])["reason"] == "invalid_json"
    finally:
        client.close()
    published = b"\n".join(_on_topic(gateway))
    for tag in [*tags, first, third]:
        assert tag.encode() in published


def test_a_refused_requests_body_is_skipped_and_the_connection_serves_on(
    gateway: GatewayProcess,
) -> None:
    client = _Client(gateway)
    try:
        client.send(_post(_event("no-token"), token=None))
        status, headers, _ = client.answer()
        assert status == 401
        assert headers["www-authenticate"].startswith("Bearer")
        client.send(_post(_event("read-token"), token="read"))
        assert client.answer()[0] == 403
        tag = f"after-refusals-{secrets.token_hex(3)}"
        client.send(_post(_event(tag)))
        assert client.answer()[0] == 201
    finally:
        client.close()
    assert any(tag.encode() in value for value in _on_topic(gateway))


def test_expect_continue(gateway: GatewayProcess) -> None:
    client = _Client(gateway)
    try:
        request = _post(_event(f"continue-{secrets.token_hex(3)}"), "Expect: 100-continue\r\n")
        head, body = request.split(b"\r\n\r\n", 1)
        client.send(head + b"\r\n\r\n")
        assert client.answer()[0] == 100  # before the body is sent
        client.send(body)
        assert client.answer()[0] == 201
    finally:
        client.close()
    # Refused on its headers: the final answer at once, no 100, and the body is not awaited.
    client = _Client(gateway)
    try:
        head = _post(_event("continue-refused"), "Expect: 100-continue\r\n", token="read")
        client.send(head.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
        assert client.answer()[0] == 403
    finally:
        client.close()


def test_connection_close_and_http_1_0(gateway: GatewayProcess) -> None:
    for request in (
        _post(_event(f"close-{secrets.token_hex(3)}"), "Connection: close\r\n"),
        _post(_event(f"old-{secrets.token_hex(3)}"), version="1.0"),
    ):
        client = _Client(gateway)
        try:
            client.send(request)
            status, headers, _ = client.answer()
            assert (status, headers["connection"]) == (201, "close")
            assert client.closed()
        finally:
            client.close()


def test_malformed_requests_get_400_and_a_closed_connection(gateway: GatewayProcess) -> None:
    for garbage in (
        b"NOT HTTP AT ALL\r\n\r\n",
        b"POST /api/v1/lineage HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
    ):
        client = _Client(gateway)
        try:
            client.send(garbage)
            assert client.answer()[0] == 400
            assert client.closed()
        finally:
            client.close()
    # The gateway serves on.
    assert gateway.request("GET", "/healthz")[0] == 200


def test_an_endless_head_is_cut(gateway: GatewayProcess) -> None:
    """A header that never ends: 431 after some 64 KiB (plus one read), not
    memory for whatever the client sends."""
    client = _Client(gateway)
    sent = 0
    try:
        client.send(f"POST {EVENT} HTTP/1.1\r\nHost: x\r\nX-Endless: ".encode())
        client.sock.settimeout(0.05)
        status = None
        while status is None and sent < 8 * 1024 * 1024:
            try:
                client.send(b"a" * 16384)
                sent += 16384
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                if client._fill():
                    status = int(client.buffer.split(b" ", 2)[1])
            except TimeoutError:
                continue
        client.sock.settimeout(15)
        if status is None:
            status = client.answer()[0]
        assert status == 431
        assert sent < 1024 * 1024
    finally:
        client.close()
