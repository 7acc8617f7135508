"""Content hash and identities (docs/design.md section 3, "Content hash")."""

from __future__ import annotations

import hashlib
import itertools

from processor.core.decode import decode_object
from processor.core.identity import (
    canonical_json,
    content_hash,
    edge_id,
    event_mark,
    job_field,
    job_key_id,
    node_id,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_canonical_json_sorted_compact_utf8() -> None:
    obj = {"b": 1, "a": "é", "c": [1, {"y": None, "x": True}], "A": "\U0001f600"}
    # keys sorted by code point ("A" < "a" < "b" < "c"), no whitespace,
    # non-ASCII as UTF-8 bytes, not \u escapes
    expected = '{"A":"\U0001f600","a":"é","b":1,"c":[1,{"x":true,"y":null}]}'
    assert canonical_json(obj) == expected.encode("utf-8")


def test_canonical_json_escapes_only_what_json_requires() -> None:
    obj = {"q": 'say "hi"', "s": "a/b\\c", "n": "line\nbreak\x00", "u": "\u2028"}
    expected = '{"n":"line\\nbreak\\u0000","q":"say \\"hi\\"","s":"a/b\\\\c","u":"\u2028"}'
    assert canonical_json(obj) == expected.encode("utf-8")


def test_content_hash_is_sha256_of_the_hand_written_canonical_string() -> None:
    raw = b"""{
      "eventType": "COMPLETE",
      "job": {"name": "orders", "namespace": "dbt"},
      "eventTime": "2026-03-01T10:00:00Z",
      "inputs": [{"namespace": "postgres://db", "name": "caf\\u00e9"}]
    }"""
    canonical = (
        '{"eventTime":"2026-03-01T10:00:00Z","eventType":"COMPLETE",'
        '"inputs":[{"name":"café","namespace":"postgres://db"}],'
        '"job":{"name":"orders","namespace":"dbt"}}'
    )
    assert content_hash(decode_object(raw, 64)) == sha(canonical)


def test_key_order_and_whitespace_do_not_change_the_hash() -> None:
    spellings = [
        b'{"a":1,"b":{"c":[1,2],"d":"x"}}',
        b'{"b":{"d":"x","c":[1,2]},"a":1}',
        b'  {\n "b" : { "d" : "x" ,\t"c" : [ 1 , 2 ] } , "a" : 1 }\n',
        b'{"a":1,"b":{"c":[1,2],"d":"\\u0078"}}',  # \u0078 is "x"
    ]
    hashes = {content_hash(decode_object(s, 64)) for s in spellings}
    assert hashes == {sha('{"a":1,"b":{"c":[1,2],"d":"x"}}')}


def test_list_order_and_values_do_change_the_hash() -> None:
    assert content_hash({"a": [1, 2]}) != content_hash({"a": [2, 1]})
    assert content_hash({"a": "x"}) != content_hash({"a": "X"})
    assert content_hash({"a": None}) != content_hash({})


def test_empty_object() -> None:
    assert content_hash({}) == sha("{}")


# ------------------------------------------------------------------ node_id


def test_node_id_is_fixed_width_hex_and_deterministic() -> None:
    nid = node_id("snowflake://acme", "RAW.ORDERS")
    assert len(nid) == 32
    assert int(nid, 16) >= 0
    assert nid == node_id("snowflake://acme", "RAW.ORDERS")
    assert nid != node_id("snowflake://acme", "raw.orders")  # case-sensitive
    assert nid != node_id("Snowflake://acme", "RAW.ORDERS")


def test_node_id_collision_proof_for_separators() -> None:
    tricky = [
        ("a:b", "c"),
        ("a", "b:c"),
        ("a", "bc"),
        ("ab", "c"),
        ("abc", ""),
        ("", "abc"),
        ("1:a", "b"),
        ("1", ":ab"),
        ("a/b", "c"),
        ("a", "b/c"),
        ("a{", "}b"),
        ("a", "{}b"),
        ("a\n", "b"),
        ("a", "\nb"),
        ("dataset:a", "b"),
        ("dataset", "a:b"),
        ("é", "e"),
        ("e", "\u0301e"),
        ("ns", "é" * 1000),
        ("ns", "é" * 999 + "e"),
        ("\U0001f600" * 500, "\U0001f600" * 500),
        ("\U0001f600" * 499, "\U0001f600" * 501),
    ]
    ids = [node_id(ns, nm) for ns, nm in tricky]
    assert len(set(ids)) == len(tricky)
    assert all(len(i) == 32 for i in ids)


def test_edge_id_is_injective_concatenation() -> None:
    a, b, c = node_id("x", "a"), node_id("x", "b"), node_id("x", "c")
    assert edge_id(a, b) == a + b
    assert edge_id(a, b) != edge_id(b, a)
    ids = {edge_id(s, t) for s, t in itertools.product((a, b, c), repeat=2)}
    assert len(ids) == 9


def test_event_mark_is_a_prefix_of_the_hash() -> None:
    digest = sha("{}")
    assert event_mark(digest) == digest[:16]


def test_job_field_is_an_injective_json_array() -> None:
    assert job_field("dbt", "orders") == '["dbt","orders"]'
    assert job_field("a", 'b","c') != job_field('a","b', "c")
    assert job_field("é", "x") == '["é","x"]'


def test_job_key_id_is_sha1_hex_of_the_job_field() -> None:
    # echo -n '["ns","name"]' | sha1sum
    assert job_key_id("ns", "name") == "ecf6f3c508e50d245e4bd8bb5336a28265cb9273"
    # UTF-8, not \u escapes; the quote escaped as JSON does: '["airflow://é","a\"b"]'
    assert job_key_id("airflow://é", 'a"b') == "8eeb8fde679afdf0ae0550e8ee3eb6c236f208a7"
    assert job_key_id("a", 'b","c') != job_key_id('a","b', "c")
