"""Bytes to a JSON object, under the ``invalid_json`` rules of docs/design.md section 2.

orjson already refuses what the contract calls invalid: bytes that are not
UTF-8 (a byte-order mark too), trailing content, NaN and Infinity, numbers that
overflow a double and lone surrogates; duplicate keys resolve to the last one.
What it does not bound is nesting depth (it allows 1024), so that is checked
here, cheaply: a document with fewer brackets than the bound cannot be deeper.
"""

from __future__ import annotations

from typing import Any

import orjson

from processor.core.reasons import Reason
from processor.errors import InvalidMessage


def decode_object(raw: bytes | None, max_depth: int) -> dict[str, Any]:
    """Parse ``raw`` as one JSON object or raise ``InvalidMessage(invalid_json)``."""
    if raw is None:
        raise InvalidMessage(Reason.INVALID_JSON, "record has no value (null)")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage(Reason.INVALID_JSON, str(exc)) from None
    if not isinstance(value, dict):
        raise InvalidMessage(
            Reason.INVALID_JSON, f"expected a JSON object, got {_json_type(value)}"
        )
    # The opening brackets, counted in one pass: fewer than the bound, and the
    # document cannot be deeper.
    if len(raw.translate(None, _NOT_OPENERS)) > max_depth and _depth(raw, max_depth) > max_depth:
        raise InvalidMessage(Reason.INVALID_JSON, f"nesting deeper than {max_depth} levels")
    return value


# Quotes and brackets kept; both kinds of bracket become parentheses (the JSON
# is valid, so which kind closes which does not matter for the depth).
_QUOTES_AND_BRACKETS = bytes.maketrans(b"[]{}", b"()()")
_NOT_QUOTES = bytes(b for b in range(256) if b not in b'"[]{}')
_NOT_OPENERS = bytes(b for b in range(256) if b not in b"[{")


def _depth(raw: bytes, bound: int) -> int:
    """Deepest nesting of a document already known to be valid JSON, or
    ``bound + 1`` when it is deeper than ``bound``.

    Strings are cut out first (a bracket inside a string is not nesting). All
    by bytes methods, no Python loop, as facets make events large: once the
    escaped backslashes and then the escaped quotes are gone, every quote left
    delimits a string; two adjacent quotes (a string without brackets, or none
    between two strings) go at once, and the few left split the rest. Then each
    pass removes the innermost pairs: the number of passes is the depth.
    """
    kept = raw
    if b"\\" in kept:
        kept = kept.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = kept.translate(_QUOTES_AND_BRACKETS, _NOT_QUOTES).replace(b'""', b"")
    if b'"' in kept:
        kept = b"".join(kept.split(b'"')[::2])
    for level in range(bound + 1):
        if not kept:
            return level
        kept = kept.replace(b"()", b"")
    return bound + 1


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
