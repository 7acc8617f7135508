"""The Redis key names (adapters/redis_keys.py): exactly the layout of docs/redis.md,
which an existing deployment's data is stored under, so none may change."""

from __future__ import annotations

from processor.adapters.redis_keys import Keyspace
from processor.adapters.redis_scripts import source


def test_keys_outside_any_generation() -> None:
    k = Keyspace("lineage", "7")
    assert k.pointer == "lineage:generation"
    assert k.counter == "lineage:generation:next"
    assert k.rebuild_lock == "lineage:rebuild:lock"
    assert k.rebuild_generation == "lineage:rebuild:gen"
    assert k.rebuild_progress == "lineage:rebuild:progress"
    assert k.sweep_lock == "lineage:sweep"
    assert k.redriven == "lineage:dlq:redriven"


def test_keys_of_a_generation_share_its_hash_tag() -> None:
    k = Keyspace("acme", "12")
    nid, eid = "a" * 32, "a" * 32 + "b" * 32
    assert k.base == "{acme:g12}:"
    assert k.pattern == "{acme:g12}:*"
    assert (k.edge_count, k.nodes, k.names) == (
        "{acme:g12}:ecount",
        "{acme:g12}:nodes",
        "{acme:g12}:names",
    )
    assert (k.deleted_edges, k.deleted_nodes) == ("{acme:g12}:edel", "{acme:g12}:ndel")
    assert k.folded == "{acme:g12}:folded"
    assert k.dedup_meta == "{acme:g12}:dw"
    assert k.dedup_set(20428, 1, 63) == "{acme:g12}:dd:20428.1:63"
    assert k.dedup_set(20428, 0, 5, "dr") == "{acme:g12}:dr:20428.0:5"
    assert k.dedup_ticket("1a.7", "ab" * 32) == "{acme:g12}:dt:1a.7:" + "ab" * 8
    assert k.node(nid) == "{acme:g12}:n:" + nid
    assert k.edge(eid) == "{acme:g12}:e:" + eid
    assert k.marks(eid) == "{acme:g12}:em:" + eid
    assert k.outgoing(nid) == "{acme:g12}:out:" + nid
    assert k.incoming(nid) == "{acme:g12}:in:" + nid
    assert k.job("c" * 40) == "{acme:g12}:j:" + "c" * 40


def test_another_generation_keeps_the_prefix() -> None:
    k = Keyspace("p")
    assert k.generation == "1"
    assert k.at("3") == Keyspace("p", "3")
    assert k.at("3").folded == "{p:g3}:folded"
    assert k.at("3").pointer == k.pointer == "p:generation"


def test_the_scripts_build_a_generation_s_base_as_the_keyspace_does() -> None:
    # fold.lua and delete.lua build the base from the generation the pointer
    # names; Keyspace.base is "{" + prefix + ":g" + generation + "}:".
    for name in ("fold.lua", "delete.lua"):
        assert "local base = '{' .. prefix .. ':g' .. generation .. '}:'" in source(name)
