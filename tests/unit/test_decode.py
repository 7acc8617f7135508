"""decode_object: every ``invalid_json`` case of docs/design.md section 2."""

from __future__ import annotations

import hashlib

import pytest

from processor.core.decode import decode_object
from processor.core.identity import content_hash
from processor.core.reasons import Reason
from processor.errors import InvalidMessage
from tests.events import ol_event

DEPTH = 64  # the default bound of the design


def nested_objects(levels: int) -> bytes:
    """``levels`` objects inside each other: {"a":{"a":...{"a":1}...}}."""
    return b'{"a":' * (levels - 1) + b'{"a":1}' + b"}" * (levels - 1)


def object_with_arrays(levels: int) -> bytes:
    """One object holding ``levels - 1`` nested arrays: depth ``levels``."""
    return b'{"a":' + b"[" * (levels - 1) + b"]" * (levels - 1) + b"}"


def rejects(raw: bytes | None, max_depth: int = DEPTH) -> InvalidMessage:
    with pytest.raises(InvalidMessage) as info:
        decode_object(raw, max_depth)
    assert info.value.reason == Reason.INVALID_JSON.value == "invalid_json"
    return info.value


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"a":"\xff"}', id="not-utf8"),
        pytest.param(b'{"a":"\xc3"}', id="truncated-utf8"),
        pytest.param(b'{"a":"\xed\xa0\x80"}', id="utf8-encoded-surrogate"),
        pytest.param('{"a":"é"}'.encode("latin-1"), id="latin-1"),
        pytest.param('{"a":1}'.encode("utf-16"), id="utf-16"),
        pytest.param(b"\xef\xbb\xbf{}", id="bom"),
        pytest.param(b"", id="empty"),
        pytest.param(b"   ", id="whitespace-only"),
        pytest.param(b"{} {}", id="two-values"),
        pytest.param(b'{"a":1}\n{"a":2}', id="jsonl-two-lines"),
        pytest.param(b'{"a":1}x', id="trailing-garbage"),
        pytest.param(b'{"a":1', id="truncated"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'[{"a":1}]', id="array-of-object"),
        pytest.param(b'"{}"', id="string"),
        pytest.param(b"42", id="number"),
        pytest.param(b"true", id="boolean"),
        pytest.param(b"null", id="json-null"),
        pytest.param(b'{"a":NaN}', id="nan"),
        pytest.param(b'{"a":-Infinity}', id="minus-infinity"),
        pytest.param(b'{"a":Infinity}', id="infinity"),
        pytest.param(b'{"a":1e400}', id="1e400"),
        pytest.param(b'{"a":-1e400}', id="minus-1e400"),
        pytest.param(b'{"a":"\\ud800"}', id="lone-high-surrogate"),
        pytest.param(b'{"a":"\\udc00"}', id="lone-low-surrogate"),
        pytest.param(b'{"\\ud83d":1}', id="lone-surrogate-in-key"),
        pytest.param(b"{'a':1}", id="single-quotes"),
        pytest.param(b'{"a":1,}', id="trailing-comma"),
        pytest.param(b'{"a":01}', id="leading-zero"),
        pytest.param(b'{"a":"tab\tinside"}', id="raw-control-char"),
    ],
)
def test_invalid_json(raw: bytes) -> None:
    rejects(raw)


def test_null_record_value_is_invalid_json() -> None:
    err = rejects(None)
    assert "null" in err.error


def test_valid_object_with_surrounding_whitespace() -> None:
    assert decode_object(b' \n{"a":[1,2]}\t\n', DEPTH) == {"a": [1, 2]}


def test_surrogate_pair_escape_is_fine() -> None:
    assert decode_object(b'{"a":"\\ud83d\\ude00"}', DEPTH) == {"a": "\U0001f600"}


def test_large_but_finite_numbers_are_fine() -> None:
    assert decode_object(b'{"a":1e308,"b":1e-400}', DEPTH) == {"a": 1e308, "b": 0.0}


def test_depth_at_the_bound_is_fine_one_more_is_not() -> None:
    # the outermost object is level 1, so 64 nested containers are allowed
    assert decode_object(nested_objects(64), DEPTH)
    assert decode_object(object_with_arrays(64), DEPTH)
    rejects(nested_objects(65))
    rejects(object_with_arrays(65))


def test_depth_bound_is_a_parameter() -> None:
    assert decode_object(nested_objects(3), 3)
    rejects(nested_objects(4), max_depth=3)


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    raw = b'{"a":"' + b"{[" * 200 + b'"}'
    assert decode_object(raw, DEPTH) == {"a": "{[" * 200}


def test_very_deep_document_is_rejected_not_crashing() -> None:
    rejects(b"[" * 100_000 + b"]" * 100_000)
    rejects(b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}")


def test_duplicate_keys_last_one_wins() -> None:
    obj = decode_object(b'{"a":1,"b":2,"a":3}', DEPTH)
    assert obj == {"a": 3, "b": 2}
    # the hash is the hash of the object with only the last key:
    # canonical form of {"a":3,"b":2} is {"a":3,"b":2}
    assert content_hash(obj) == hashlib.sha256(b'{"a":3,"b":2}').hexdigest()
    assert content_hash(obj) == content_hash(decode_object(b'{"b":2,"a":3}', DEPTH))


def test_nested_duplicate_keys_last_one_wins() -> None:
    obj = decode_object(b'{"job":{"name":"x","name":"y"}}', DEPTH)
    assert obj == {"job": {"name": "y"}}


def test_client_event_decodes() -> None:
    obj = decode_object(ol_event(), DEPTH)
    assert obj["eventType"] == "COMPLETE"
    assert obj["job"] == {"namespace": "dbt", "name": "orders", "facets": {}}
