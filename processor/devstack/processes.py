"""Spawning the local service binaries, and reading their logs.

Children get their own session, so a signal meant for the test run or the ``dev``
terminal does not reach them by accident, and, on Linux, ``PR_SET_PDEATHSIG``, so
that a killed parent leaves no orphan broker or Redis behind.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["log_tail", "spawn"]

_PR_SET_PDEATHSIG = 1
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def log_tail(path: Path, lines: int = 20) -> str:
    """Last non-empty lines of a log file, joined with newlines ('' when absent)."""
    try:
        text = path.read_bytes()[-65536:].decode("utf-8", "replace")
    except OSError:
        return ""
    text = _ANSI.sub("", text)
    return "\n".join([ln for ln in text.splitlines() if ln.strip()][-lines:])


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec hook asking Linux to SIGKILL the child when this process dies.

    PDEATHSIG fires when the *thread* that forked exits, so it is only armed when
    spawning from the main thread; other children rely on the atexit cleanup in
    :mod:`processor.devstack.services`.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, not after
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


def spawn(
    argv: list[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a child in its own session, output appended to ``log_path``, dying with us."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent(),  # only calls prctl: safe after fork
        )
