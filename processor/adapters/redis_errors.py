"""Redis errors as the processor's ``RedisUnavailable``: retried, never a dead letter.

Every ``RedisError`` a Redis adapter meets is an outage (docs/design.md section 3:
Redis unavailable means pause and retry). What needs care is the text, which
the logs and the operators read: the same refusal reads differently across
Redis versions. At ``maxmemory`` a write inside a script fails in Redis 6.2 as
``Error running script ...: -OOM command not allowed when used memory >
'maxmemory'.`` (a plain ``ResponseError``), and in Redis 7 as the error
``OOM command not allowed ...`` itself, which redis-py turns into an
``OutOfMemoryError`` whose text has lost its ``OOM`` code. The code is put
back, so both read ``OOM command not allowed ...``.
"""

from __future__ import annotations

from redis import exceptions as rex

from processor.errors import RedisUnavailable

# The error codes redis-py strips from the text when it picks a class for them.
_CODES: tuple[tuple[type[rex.RedisError], str], ...] = (
    (rex.OutOfMemoryError, "OOM"),
    (rex.ReadOnlyError, "READONLY"),
    (rex.BusyLoadingError, "LOADING"),
    (rex.NoPermissionError, "NOPERM"),
)


def describe(exc: rex.RedisError) -> str:
    """The error's text, led by its Redis error code when redis-py dropped it."""
    text = str(exc)
    for kind, code in _CODES:
        if isinstance(exc, kind) and not text.startswith(code + " "):
            return f"{code} {text}"
    return text


def unavailable(exc: rex.RedisError) -> RedisUnavailable:
    """The ``RedisUnavailable`` to raise (``from exc``) for a Redis error."""
    return RedisUnavailable(f"Redis: {describe(exc)}")
