"""Redis errors become RedisUnavailable with one wording across Redis versions
(adapters/redis_errors.py). The texts are what redis-py 8 gives for a script's
write refused at ``maxmemory`` by Redis 6.2.14 and by Redis 7.0.15."""

from __future__ import annotations

import pytest
from redis import exceptions as rex

from processor.adapters.redis_errors import describe, unavailable
from processor.errors import RedisUnavailable

REDIS_62_SCRIPT_OOM = rex.ResponseError(
    "Error running script (call to f_e6fbbd6637fe61f548c8b03624d216fd7fb9dfd0): "
    "@user_script:1: @user_script: 1: -OOM command not allowed when used memory > 'maxmemory'."
)
# Redis 7 passes the command's own error through; redis-py strips its "OOM" code.
REDIS_70_SCRIPT_OOM = rex.OutOfMemoryError(
    "command not allowed when used memory > 'maxmemory'. "
    "script: e6fbbd6637fe61f548c8b03624d216fd7fb9dfd0, on @user_script:1."
)
PLAIN_WRITE_OOM = rex.OutOfMemoryError("command not allowed when used memory > 'maxmemory'.")


@pytest.mark.parametrize("exc", [REDIS_62_SCRIPT_OOM, REDIS_70_SCRIPT_OOM, PLAIN_WRITE_OOM])
def test_out_of_memory_reads_the_same_on_redis_6_and_7(exc: rex.RedisError) -> None:
    error = unavailable(exc)
    assert isinstance(error, RedisUnavailable)
    assert "OOM command not allowed when used memory > 'maxmemory'" in str(error)
    assert str(error).startswith("Redis: ")


def test_stripped_codes_are_put_back_once() -> None:
    assert describe(rex.ReadOnlyError("You can't write against a read only replica.")) == (
        "READONLY You can't write against a read only replica."
    )
    assert describe(rex.BusyLoadingError("Redis is loading the dataset in memory")) == (
        "LOADING Redis is loading the dataset in memory"
    )
    assert describe(rex.OutOfMemoryError("OOM command not allowed")) == "OOM command not allowed"


def test_other_errors_keep_their_text() -> None:
    assert str(unavailable(rex.ConnectionError("Connection refused"))) == (
        "Redis: Connection refused"
    )
    assert str(unavailable(rex.TimeoutError("Timeout reading from socket"))) == (
        "Redis: Timeout reading from socket"
    )
