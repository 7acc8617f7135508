"""The test services themselves: the broker and Redis fixtures really work, exact
end offsets hold under batching, Redis pause/kill/restart behave as the fault tests
assume, start failures say why, no child outlives its parent, and the worker
harness reads readiness and metrics from a stand-in HTTP server."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import redis
from aiokafka import AIOKafkaProducer
from redis.backoff import NoBackoff
from redis.retry import Retry

from processor.adapters.kafka_admin import create_topics
from processor.adapters.log_reader import end_offsets
from processor.devstack import services
from processor.devstack.services import RunningService
from processor.errors import ServiceStartError
from tests.integration.harness import WorkerProcess, free_port, parse_metrics, wait_for
from tests.integration.kafka_utils import count_messages, read_topic

pytestmark = pytest.mark.integration


async def _produce_batched(bootstrap: str, topic: str, count: int, partitions: int) -> None:
    """Send ``count`` records in large batches (the case Tansu's ListOffsets gets wrong)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic, f"value-{i}".encode(), key=f"{i}".encode(), partition=i % partitions
            )
            for i in range(count)
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def test_broker_round_trip_and_exact_end_offsets(
    broker: str, make_topics: Callable[..., list[str]]
) -> None:
    (topic,) = make_topics("roundtrip", partitions=3)
    assert asyncio.run(end_offsets(broker, topic)) == {0: 0, 1: 0, 2: 0}

    asyncio.run(_produce_batched(broker, topic, 1000, 3))

    ends = asyncio.run(end_offsets(broker, topic))
    assert ends == {0: 334, 1: 333, 2: 333}
    assert count_messages(broker, topic) == 1000
    records = read_topic(broker, topic, expect=1000)
    assert sorted(r.value or b"" for r in records) == sorted(
        f"value-{i}".encode() for i in range(1000)
    )
    assert {r.partition for r in records if r.key == b"4"} == {1}


def test_create_topics_is_idempotent_and_unknown_topics_are_named(
    broker: str, key_prefix: str
) -> None:
    names = [f"idem-a.{key_prefix}", f"idem-b.{key_prefix}"]
    assert sorted(asyncio.run(create_topics(broker, names, 2))) == names
    assert asyncio.run(create_topics(broker, [*names, f"idem-c.{key_prefix}"], 2)) == [
        f"idem-c.{key_prefix}"
    ]
    assert asyncio.run(end_offsets(broker, names[0])) == {0: 0, 1: 0}
    with pytest.raises(LookupError, match="does not exist"):
        asyncio.run(end_offsets(broker, f"missing.{key_prefix}"))


def test_redis_set_get_in_an_isolated_database(redis_client: redis.Redis, key_prefix: str) -> None:
    assert redis_client.dbsize() == 0  # flushed for this test
    redis_client.set(f"{key_prefix}:k", "v")
    assert redis_client.get(f"{key_prefix}:k") == b"v"


def test_redis_pause_resume_kill_and_restart_keep_aof_data(
    redis_factory: Callable[..., RunningService],
) -> None:
    service = redis_factory(appendonly=True, appendfsync="always")
    client = redis.Redis.from_url(service.address, socket_timeout=0.5)
    client.set("before", "1")

    service.pause()
    with pytest.raises(redis.exceptions.TimeoutError):
        redis.Redis.from_url(service.address, socket_timeout=0.3).get("before")
    service.resume()
    assert client.get("before") == b"1"

    port, pid = service.port, service.pid
    service.restart()  # SIGTERM, then the same port and directory
    assert (service.port, service.address) == (port, f"redis://127.0.0.1:{port}/0")
    assert service.pid != pid
    client = redis.Redis.from_url(service.address)
    assert client.get("before") == b"1"

    client.set("after", "2")
    service.kill()  # a crash: with appendfsync always nothing acknowledged is lost
    with pytest.raises(redis.exceptions.ConnectionError):
        client.get("after")
    service.restart()
    assert redis.Redis.from_url(service.address).mget("before", "after") == [b"1", b"2"]
    service.stop()
    service.stop()  # idempotent
    assert service.pid is None


def test_redis_password_and_maxmemory(redis_factory: Callable[..., RunningService]) -> None:
    service = redis_factory(password="s3cret", maxmemory="2mb")
    assert service.address.startswith("redis://:s3cret@127.0.0.1:")
    client = redis.Redis.from_url(service.address)

    def fill() -> None:
        for i in range(10_000):
            client.set(f"k{i}", "x" * 1000)

    with pytest.raises(redis.exceptions.ResponseError, match="maxmemory"):
        fill()
    no_retry = Retry(NoBackoff(), 0)  # redis-py 8 would retry a failed auth for ~3 s
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=service.port, retry=no_retry).set("k", "v")


def test_a_start_failure_says_why(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for start in (services.start_redis, services.start_broker):
            with pytest.raises(ServiceStartError) as info:
                start(tmp_path, port, backend="local", ready_timeout=10)
            message = str(info.value)
            assert "\n" not in message
            assert "in use" in message.lower(), message


def test_children_die_with_their_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from processor.devstack import services
        b = services.start_broker(Path({str(tmp_path)!r}), backend="local")
        r = services.start_redis(Path({str(tmp_path)!r}), backend="local")
        print(b.pid, r.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2
        assert all(psutil.pid_exists(p) for p in pids)
    finally:
        parent.kill()  # SIGKILL: no atexit, no finally in the parent
        parent.wait()

    def gone(pid: int) -> bool:
        try:
            return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return True

    wait_for(lambda: all(gone(p) for p in pids), timeout=10)


FAKE_WORKER = """
import http.server, json, os, time
started = time.monotonic()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/readyz":
            code, body = (200, b"ok") if time.monotonic() - started > 0.3 else (503, b"no")
        elif self.path == "/metrics":
            code, body = 200, (
                "# TYPE lineage_events_consumed_total counter\\n"
                'lineage_events_consumed_total{topic="a"} 3.0\\n'
                'lineage_events_consumed_total{topic="b"} 4.0\\n'
                "# TYPE lineage_graph_edges gauge\\nlineage_graph_edges 2.0\\n"
            ).encode()
        elif self.path == "/json":
            code, body = 200, json.dumps({"env": os.environ.get("LINEAGE_X")}).encode()
        else:
            code, body = 404, b"missing"
        self.send_response(code); self.end_headers(); self.wfile.write(body)
print("fake worker up", flush=True)
http.server.HTTPServer(("127.0.0.1", int(os.environ["LINEAGE_WEB_PORT"])), H).serve_forever()
"""


def test_worker_harness_against_a_stand_in_server(tmp_path: Path) -> None:
    worker = WorkerProcess({"LINEAGE_X": "y"}, free_port(), tmp_path / "worker.log")
    worker.argv = [sys.executable, "-c", FAKE_WORKER]
    with worker:
        started = time.monotonic()
        worker.wait_ready(timeout=10)
        assert time.monotonic() - started >= 0.3  # it waited for the 200
        assert worker.metric("lineage_events_consumed_total", topic="b") == 4.0
        assert worker.metric("lineage_events_consumed_total") == 7.0  # summed over labels
        assert worker.metric("lineage_graph_edges") == 2.0
        assert worker.metric("lineage_nothing_total") == 0.0
        assert worker.get_json("/json") == {"env": "y"}
        with pytest.raises(AssertionError, match="404"):
            worker.get_json("/nope")
        with pytest.raises(AssertionError, match="fake worker up"):  # the log tail
            worker.wait_for(lambda: False, timeout=0.3)
        assert worker.terminate(timeout=10) == -15

    crashing = WorkerProcess({}, free_port(), tmp_path / "crash.log")
    crashing.argv = [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"]
    crashing.start()
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"(?s)exited with code 3.*boom"):
        crashing.wait_ready(timeout=30)
    assert time.monotonic() - started < 10  # it gave up at once, not after 30 s


def test_parse_metrics_keys() -> None:
    text = '# TYPE x_total counter\nx_total{a="1",b="2"} 5.0\n'
    assert parse_metrics(text) == {("x_total", frozenset({("a", "1"), ("b", "2")})): 5.0}
