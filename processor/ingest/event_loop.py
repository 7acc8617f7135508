"""The event loop a gateway process runs on: uvloop's when it is installed.

A single-event request is mostly the event loop's and the transports' work
(reading the socket, parsing, writing the answer); uvloop does that part in C
and takes a tenth off a request's CPU (docs/benchmarks.md, HTTP ingest).
Without it (a platform it does not build on), asyncio's own loop serves the
same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop, or None (asyncio's default)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run(main)`` on the gateway's loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main)
