"""Processes and HTTP for the benchmarks: spawn a child in its own session with its
output in a log, stop it politely then firmly, sample its memory and CPU, read its
HTTP endpoints. Every child is listed in ``CHILDREN`` so a benchmark's ``finally``
can stop what is left."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILDREN: list[subprocess.Popen[bytes]] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
        )
    CHILDREN.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Stop a process this bench started (its own session), politely then firmly."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc in CHILDREN:
        CHILDREN.remove(proc)


def tail(log: Path, lines: int = 3) -> str:
    """The last lines of a log, on one line (see the log file for the rest)."""
    try:
        text = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    kept = [line for line in text if line and not set(line) <= {"^", "~", " "}]
    where = log.relative_to(ROOT) if log.is_relative_to(ROOT) else log
    return f"{' | '.join(kept[-lines:])[-400:]} (log: {where})"


class RssSampler:
    """Peak resident memory of a process and its children, sampled every 100 ms;
    also its CPU time, to tell busy (CPU-bound) from waiting."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._proc = psutil.Process(pid)
        self._psutil = psutil
        self._next = 0.0
        self.peak = 0

    def sample(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + 0.1
        try:
            procs = [self._proc, *self._proc.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in procs)
        except self._psutil.Error:
            return
        self.peak = max(self.peak, rss)

    def cpu_seconds(self) -> float | None:
        try:
            times = self._proc.cpu_times()
        except self._psutil.Error:
            return None
        return float(times.user + times.system)

    def children_cpu_seconds(self) -> float | None:
        """CPU time of the process's live children (the worker's classifier helpers)."""
        total = 0.0
        try:
            children = self._proc.children(recursive=True)
        except self._psutil.Error:
            return None
        for child in children:
            try:
                times = child.cpu_times()
            except self._psutil.Error:
                continue
            total += times.user + times.system
        return total


def cpu_of(pids: dict[str, int | None]) -> dict[str, float]:
    """CPU seconds so far of each named process (its children included), e.g. the
    broker and Redis, to tell which process a phase keeps busy."""
    import psutil

    out: dict[str, float] = {}
    for name, pid in pids.items():
        if pid is None:
            continue
        try:
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)]
            out[name] = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
        except psutil.Error:
            continue
    return out


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, b""
