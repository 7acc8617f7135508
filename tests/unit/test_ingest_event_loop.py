"""A gateway process runs on uvloop's event loop when uvloop is installed (it is a
dependency wherever it builds), else on asyncio's own."""

from __future__ import annotations

import asyncio

from processor.ingest import event_loop


def test_the_gateway_runs_on_uvloop() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        loops.append(asyncio.get_running_loop())

    event_loop.run(main())
    assert type(loops[0]).__module__.split(".")[0] == "uvloop"
    assert loops[0].is_closed()
