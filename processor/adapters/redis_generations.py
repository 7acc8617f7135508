"""A rebuild's operations on the generations of one prefix (``processor.rebuild``).

The lock (``P:rebuild:lock``: one rebuild at a time, gone ``LOCK_MS`` after
its holder stops renewing it), the numbering of a new generation
(``P:generation:next``), the generation a rebuild builds or has yet to drop
(``P:rebuild:gen``), its progress record, the switch of the pointer
(``lua/switch.lua``) and the drop of a generation's keys. Redis errors are
left to the caller, which maps them to ``RedisUnavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from processor.adapters.redis_keys import Keyspace
from processor.adapters.redis_scripts import Scripts
from processor.errors import RebuildError

LOCK_MS = 15_000  # how long a dead rebuild's lock outlives it
DROP_CHUNK = 1000


class Generations:
    """The generation keys of ``prefix`` on ``client``."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.keys = Keyspace(prefix)
        self.scripts = Scripts.of(client)

    # --- the lock ----------------------------------------------------------

    async def lock(self, token: str) -> None:
        """Take the rebuild lock for ``token``; ``RebuildError`` when another holds it."""
        key = self.keys.rebuild_lock
        if not await self.client.set(key, token, nx=True, px=LOCK_MS):
            left = int(await self.client.pttl(key))
            raise RebuildError(
                f"another rebuild is running (lock {key}, which expires in "
                f"{max(left, 0) / 1000:.0f} s if that rebuild is gone)"
            )

    async def keep_lock(self, token: str) -> None:
        """Renew the lock while ``token`` holds it, until cancelled."""
        key = self.keys.rebuild_lock
        while True:
            await asyncio.sleep(LOCK_MS / 3000)
            with contextlib.suppress(RedisError):
                if await self.client.get(key) == token.encode():
                    await self.client.pexpire(key, LOCK_MS)

    async def unlock(self, token: str) -> None:
        """Release the lock if ``token`` still holds it."""
        key = self.keys.rebuild_lock
        if await self.client.get(key) == token.encode():
            await self.client.delete(key)

    # --- numbering, leftovers, progress -----------------------------------

    async def allocate(self, current: str) -> str:
        """Number a new generation above ``current`` and record it as the one
        being built (dropped by the next rebuild if this one is killed)."""
        counter = self.keys.counter
        new = int(await self.client.incr(counter))
        if new <= int(current):
            new = int(current) + 1
            await self.client.set(counter, new)
        await self.remember(str(new))
        return str(new)

    async def leftover(self) -> str | None:
        """The generation a killed rebuild left behind, if any."""
        value = await self.client.get(self.keys.rebuild_generation)
        return None if value is None else _text(value)

    async def remember(self, generation: str) -> None:
        """Record ``generation`` as one to drop should this rebuild stop now."""
        await self.client.set(self.keys.rebuild_generation, generation)

    async def forget(self) -> None:
        """Nothing left to drop."""
        await self.client.delete(self.keys.rebuild_generation)

    async def write_progress(self, record: bytes) -> None:
        """Publish the progress record; it expires with the lock."""
        await self.client.set(self.keys.rebuild_progress, record, px=LOCK_MS)

    async def clear_progress(self) -> None:
        await self.client.delete(self.keys.rebuild_progress)

    # --- a generation --------------------------------------------------------

    async def folded(self, generation: str) -> dict[str, int]:
        """``topic/partition`` -> highest offset folded into ``generation``."""
        raw = await self.client.hgetall(self.keys.at(generation).folded)
        return {_text(k): int(v) for k, v in raw.items()}

    async def switch(
        self,
        current: str,
        new: str,
        positions: Mapping[str, int],
        beginnings: Mapping[str, int] | None = None,
        *,
        lost_known: bool = False,
    ) -> tuple[bool, str]:
        """Move the pointer from ``current`` to ``new`` if the rebuild, at
        ``positions`` (next offset per ``topic/partition``), covers all that is
        folded into ``current`` (``lua/switch.lua``): (switched, why not).
        ``beginnings`` (first offset read per ``topic/partition``) becomes the
        graph's origin marker. ``lost_known``: the rebuild began knowing the
        graph lost (else a lost flag refuses the switch)."""
        keys = self.keys
        done, why = await self.scripts.switch(
            keys=[keys.pointer, keys.at(current).folded, keys.origin, keys.lost],
            args=[
                current,
                new,
                orjson.dumps(dict(positions)),
                orjson.dumps(dict(beginnings or {})),
                "1" if lost_known else "0",
            ],
        )
        return bool(done), _text(why)

    async def drop(self, generation: str) -> int:
        """Delete every key of ``generation``, in chunks; returns how many."""
        pattern = self.keys.at(generation).pattern
        dropped = 0
        async for chunk in _chunks(self.client.scan_iter(match=pattern, count=DROP_CHUNK)):
            dropped += int(await self.client.unlink(*chunk))
        return dropped


async def _chunks(keys: AsyncIterator[bytes], size: int = DROP_CHUNK) -> AsyncIterator[list[bytes]]:
    chunk: list[bytes] = []
    async for key in keys:
        chunk.append(key)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
