"""The Lua scripts of ``adapters/lua``, registered once per Redis client.

``Scripts.of(client)`` gives the client's registry: each script's text is read
once per process and registered (its SHA1 computed) once per client; redis-py
sends it with ``SCRIPT LOAD`` the first time Redis answers ``NOSCRIPT``. The
callers pass, in ``keys``, every key a script touches that they can name
before the call; each script's header says which keys it derives itself.
"""

from __future__ import annotations

import functools
import importlib.resources
import weakref

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript


@functools.cache
def source(name: str) -> str:
    """The text of ``lua/<name>``."""
    return importlib.resources.files("processor.adapters").joinpath("lua", name).read_text()


# The fold is one script kept in three files, one per part of the batch:
# marks and offsets, dataset nodes and edges, column edges; the dedup window's
# functions go first (also in the scripts that read the window).
DEDUP_WINDOW = "dedup_window.lua"
# The lineage queries' scripts share the visibility of an edge.
ADJACENCY = "adjacency.lua"
FOLD_PARTS = (DEDUP_WINDOW, "fold.lua", "fold_graph.lua", "fold_columns.lua")


@functools.cache
def fold_source() -> str:
    """The fold script: its parts joined, returning the batch's dedup flags."""
    return "\n".join(source(part) for part in FOLD_PARTS) + "\nreturn flags\n"


class Scripts:
    """Every script, registered on one client."""

    def __init__(self, client: aioredis.Redis) -> None:
        def register(name: str) -> AsyncScript:
            return client.register_script(source(name))

        self.fold = client.register_script(fold_source())
        self.delete = register("delete.lua")
        self.switch = register("switch.lua")
        self.sweep = register("sweep.lua")
        self.expand = client.register_script(source(ADJACENCY) + "\n" + source("expand.lua"))
        self.walk = client.register_script(source(ADJACENCY) + "\n" + source("walk.lua"))
        self.edges = register("edges.lua")
        self.search = register("search.lua")
        self.seen = client.register_script(source(DEDUP_WINDOW) + "\n" + source("seen.lua"))
        self.clear_rejected = client.register_script(
            source(DEDUP_WINDOW) + "\n" + source("clear_rejected.lua")
        )
        self.column_sweep = register("column_sweep.lua")
        self.column_expand = register("column_expand.lua")

    @staticmethod
    def of(client: aioredis.Redis) -> Scripts:
        """The registry of ``client``, made on first use."""
        found = _REGISTRIES.get(client)
        if found is None:
            found = _REGISTRIES[client] = Scripts(client)
        return found


# Keyed weakly: a registry lives as long as its client.
_REGISTRIES: weakref.WeakKeyDictionary[aioredis.Redis, Scripts] = weakref.WeakKeyDictionary()
