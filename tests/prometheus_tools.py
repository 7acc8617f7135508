"""``promtool`` and ``prometheus`` for the tests, and a Prometheus server to run.

Where the binaries come from, in order:

1. ``promtool`` / ``prometheus`` on PATH (each looked up on its own);
2. the cache ``.services/prometheus/usr/bin/`` in the repository (git-ignored,
   removed by ``make clean``);
3. Debian's ``prometheus`` package, fetched into that cache: ``apt-get download
   prometheus`` in a temporary directory, then ``dpkg -x`` (nothing is installed
   system-wide, no root needed when the apt package lists are present). When apt
   does not know the package (no ``apt-get update`` was ever run), the lists are
   fetched into the temporary directory (``apt-get -o Dir::State::Lists=...
   update``) and the download retried, still without touching the system's.

Parallel runs do not clash: the download happens under an exclusive lock
(``.services/prometheus.lock``) and the extracted tree appears in the cache by one
atomic rename, so a cache directory that exists is always complete. Any failure
raises :class:`PrometheusToolsError` naming the command and its output.

:class:`PrometheusServer` runs a real Prometheus on a free port with its data in
a temporary directory and queries its HTTP API.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processor.devstack.services import free_port, log_tail, spawn

__all__ = [
    "CACHE_DIR",
    "PrometheusServer",
    "PrometheusTools",
    "PrometheusToolsError",
    "find_prometheus_tools",
]

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / ".services" / "prometheus"
"""The extracted package: ``usr/bin/prometheus`` and ``usr/bin/promtool``."""
PACKAGE = "prometheus"
COMMAND_TIMEOUT = 240.0


class PrometheusToolsError(RuntimeError):
    """promtool or prometheus could not be found, fetched or started."""


@dataclass(frozen=True)
class PrometheusTools:
    promtool: Path
    prometheus: Path
    version: str
    """First line of ``prometheus --version``."""


def _run(argv: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; raise PrometheusToolsError with its output unless it exits 0."""
    shown = " ".join(argv)
    try:
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError as exc:
        raise PrometheusToolsError(
            f"`{shown}` failed: {argv[0]} not found ({exc}). The tests fetch Prometheus with "
            "apt-get and dpkg (Debian or Ubuntu); elsewhere put `prometheus` and `promtool` "
            "on PATH."
        ) from None
    except subprocess.TimeoutExpired as exc:
        raise PrometheusToolsError(
            f"`{shown}` did not finish within {COMMAND_TIMEOUT:.0f}s; output: {exc.output!r}"
        ) from None
    if done.returncode != 0:
        raise PrometheusToolsError(
            f"`{shown}` (in {cwd or Path.cwd()}) exited with {done.returncode}:\n"
            f"{(done.stdout + done.stderr).strip()}"
        )
    return done


def _download_deb(work: Path) -> Path:
    """``apt-get download prometheus`` into ``work/deb``; the path of the .deb."""
    missing = [tool for tool in ("apt-get", "dpkg") if shutil.which(tool) is None]
    if missing:
        raise PrometheusToolsError(
            f"no {' nor '.join(missing)} on PATH: the tests fetch Debian's {PACKAGE} package "
            "with `apt-get download prometheus` and `dpkg -x`; on other systems put "
            "`prometheus` and `promtool` on PATH"
        )
    deb_dir = work / "deb"
    deb_dir.mkdir()
    try:
        _run(["apt-get", "download", PACKAGE], cwd=deb_dir)
    except PrometheusToolsError as first:
        # Usually: no package lists yet ("Unable to locate package"). Fetch them
        # into the temporary directory, leaving the system's untouched, and retry.
        lists = work / "apt-lists"
        (lists / "partial").mkdir(parents=True)
        option = ["-o", f"Dir::State::Lists={lists}"]
        try:
            _run(["apt-get", *option, "update"], cwd=deb_dir)
            _run(["apt-get", *option, "download", PACKAGE], cwd=deb_dir)
        except PrometheusToolsError as second:
            raise PrometheusToolsError(
                f"{first}\n\nretried with package lists of its own, which failed too:\n{second}"
            ) from None
    debs = sorted(deb_dir.glob(f"{PACKAGE}_*.deb"))
    if len(debs) != 1:
        raise PrometheusToolsError(
            f"`apt-get download {PACKAGE}` left {[p.name for p in deb_dir.iterdir()]} "
            f"in {deb_dir}, expected one {PACKAGE}_*.deb"
        )
    return debs[0]


def _fill_cache(cache: Path) -> None:
    """Download and extract the package into ``cache`` unless it is already there."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    lock_path = cache.parent / f"{cache.name}.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be downloading: wait for it
        if (cache / "usr" / "bin").is_dir():
            return
        work = Path(tempfile.mkdtemp(prefix=f"{cache.name}.tmp-", dir=cache.parent))
        try:
            deb = _download_deb(work)
            root = work / "root"
            _run(["dpkg", "-x", str(deb), str(root)])
            (root / "PACKAGE").write_text(deb.name + "\n", encoding="utf-8")
            for name in ("prometheus", "promtool"):
                if not (root / "usr" / "bin" / name).is_file():
                    raise PrometheusToolsError(f"{deb.name} has no usr/bin/{name}")
            os.rename(root, cache)  # atomic: the cache is complete or absent
        except PrometheusToolsError as exc:
            raise PrometheusToolsError(
                f"{exc}\n\nNo prometheus/promtool on PATH and fetching Debian's {PACKAGE} "
                f"package into {cache} failed. Put both on PATH, or let apt reach a "
                "Debian or Ubuntu mirror."
            ) from None
        finally:
            shutil.rmtree(work, ignore_errors=True)


def find_prometheus_tools(cache: Path = CACHE_DIR) -> PrometheusTools:
    """PATH first, then the cache, else fetch Debian's package into the cache."""
    found = {name: shutil.which(name) for name in ("prometheus", "promtool")}
    if not all(found.values()):
        _fill_cache(cache)
        for name, path in found.items():
            found[name] = path or str(cache / "usr" / "bin" / name)
    tools = {name: Path(str(path)) for name, path in found.items()}
    _run([str(tools["promtool"]), "--version"])
    version = _run([str(tools["prometheus"]), "--version"]).stdout.splitlines()[0]
    return PrometheusTools(tools["promtool"], tools["prometheus"], version)


class PrometheusServer:
    """A Prometheus child process on ``127.0.0.1:port``, data in ``workdir/data``.

    Spawned like the local services (own session, dies with the test run); the
    log is ``workdir/prometheus.log``. Use as a context manager, or call
    :meth:`stop` in a ``finally``.
    """

    def __init__(self, binary: Path, config: Path, workdir: Path) -> None:
        self.binary = binary
        self.config = config
        self.workdir = workdir
        self.log_path = workdir / "prometheus.log"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float = 30.0) -> PrometheusServer:
        """Start on a free port (retried if another process takes it) and wait for ready."""
        for attempt in range(3):
            self.port = free_port()
            argv = [
                str(self.binary),
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ]
            self._proc = spawn(argv, self.log_path)
            try:
                self._wait_ready(ready_timeout)
                return self
            except PrometheusToolsError:
                exited = self._proc.poll() is not None
                self.stop()
                if not exited or attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise PrometheusToolsError(
                    f"prometheus exited with {self._proc.returncode}: {self.describe()}"
                )
            with contextlib.suppress(OSError):
                if self._get("/-/ready", timeout=1.0)[0] == 200:
                    return
            if time.monotonic() > deadline:
                raise PrometheusToolsError(
                    f"prometheus not ready within {timeout:.0f}s: {self.describe()}"
                )
            time.sleep(0.05)

    def describe(self) -> str:
        return f"{self.url}, log {self.log_path}:\n{log_tail(self.log_path, 30)}"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, SIGKILL after ``timeout``. Idempotent."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _get(self, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())

    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>`` and its ``data``; AssertionError unless status success."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        status, body = self._get(f"/api/v1/{path}{query}")
        answer = json.loads(body) if body.startswith(b"{") else {}
        if status != 200 or answer.get("status") != "success":
            raise AssertionError(f"GET /api/v1/{path}{query} answered {status}: {body[:500]!r}")
        return answer["data"]

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        """An instant vector query: (labels, value) for each series of the result."""
        data = self.api("query", query=expr)
        if data["resultType"] != "vector":
            raise AssertionError(f"{expr!r} gave a {data['resultType']}, not a vector")
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def rules(self) -> dict[str, dict[str, Any]]:
        """Every rule Prometheus loaded, by name (``alert`` or ``record``)."""
        groups = self.api("rules")["groups"]
        return {rule["name"]: rule for group in groups for rule in group["rules"]}
