"""The ingest bench's load generator: the C client (built with the machine's cc)
and its fallback, against a tiny local HTTP server."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_http_load", BENCH / "http_load.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


http_load = _load()


class _Handler(BaseHTTPRequestHandler):
    """201 for an event, 400 for a body with "bad", and for the batch path a
    summary whose failed count is the body's number of "bad"."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the gateway

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.endswith("/batch"):
            failed = body.count(b"bad")
            answer = b'{"status":"x","summary":{"received":3,"failed":%d},"failed_events":[]}'
            self._answer(200, answer % failed)
        elif b"bad" in body:
            self._answer(400, b'{"reason":"invalid_json"}')
        else:
            self._answer(201, b"")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _singles(port: int) -> list[tuple[int, bytes]]:
    bodies = [(1, b'{"ok":%d}' % i) for i in range(9)] + [(1, b"bad"), (1, b"bad!")]
    # One body larger than a socket takes at once: sent in parts.
    bodies.append((1, b'{"big":"' + b"x" * 3_000_000 + b'"}'))
    return http_load.build_requests(port, "/api/v1/lineage", bodies)


def _check_singles(out: dict[str, Any]) -> None:
    assert out["statuses"] == {201: 10, 400: 2}
    assert out["events"] == 12
    assert out["refused"] == 2
    assert len(out["latencies"]) == 12
    assert out["latencies"] == sorted(out["latencies"])
    assert 0 < out["elapsed"] < 30
    assert out["client_cpu"] >= 0


def test_auto_runs_the_c_client_when_cc_builds_it(port: int) -> None:
    before = time.perf_counter()
    out = http_load.run_load(port, False, _singles(port), processes=2, connections=3)
    after = time.perf_counter()
    _check_singles(out)
    if shutil.which("cc") is None:
        assert out["client"] == "python"
    else:
        assert out["client"] == "c"
        # Its instants are on time.perf_counter's clock.
        assert before <= out["first"] <= out["last"] <= after


def test_the_c_client_counts_a_batch_summarys_failed_events(port: int) -> None:
    bodies = [(3, b"[1,2,3]"), (3, b"[1,bad,3]"), (3, b"[bad,bad,3]")]
    requests = http_load.build_requests(port, "/api/v1/lineage/batch", bodies)
    out = http_load.run_load(port, True, requests, processes=1, connections=2)
    assert out["statuses"] == {200: 3}
    assert out["events"] == 9
    assert out["refused"] == 3


def test_without_a_compiler_the_python_client_runs(
    port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert http_load.build_c_client(compiler="no-such-compiler-here") is None
    monkeypatch.setattr(http_load.shutil, "which", lambda name: None)
    assert http_load.build_c_client() is None
    out = http_load.run_load(port, False, _singles(port), processes=2, connections=3)
    assert out["client"] == "python"
    _check_singles(out)
    with pytest.raises(RuntimeError, match="could not be built"):
        http_load.run_load(port, False, _singles(port), processes=1, connections=1, client="c")


def test_the_c_source_compiles_without_a_warning(tmp_path: Path) -> None:
    cc = shutil.which("cc")
    if cc is None:  # nothing to compile: the bench uses the Python client
        assert http_load.build_c_client() is None
        return
    flags = [*http_load.CFLAGS, "-Werror"]
    done = subprocess.run(
        [cc, *flags, "-o", str(tmp_path / "c"), str(BENCH / "http_load.c")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_a_report_is_read_into_the_python_clients_form() -> None:
    report = (
        "first 10.5\nlast 12.5\ncpu 0.25\nevents 7\nrefused 2\n"
        "status 201 5\nstatus 400 2\n" + "".join(f"latency {x}\n" for x in (0.3, 0.1, 0.2))
    )
    out = http_load.parse_report(report)
    assert out["elapsed"] == 2.0
    assert out["client_cpu"] == 0.25
    assert out["statuses"] == {201: 5, 400: 2}
    assert (out["events"], out["refused"]) == (7, 2)
    assert out["latencies"] == [0.1, 0.2, 0.3]
    with pytest.raises(ValueError, match="lacks cpu"):
        http_load.parse_report("first 1\nlast 2\nevents 1\nrefused 0\n")
    with pytest.raises(ValueError, match="unknown line"):
        http_load.parse_report("first 1\nwhat 2\n")
