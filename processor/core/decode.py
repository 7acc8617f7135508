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
    if raw.count(b"{") + raw.count(b"[") > max_depth and _depth(raw) > max_depth:
        raise InvalidMessage(Reason.INVALID_JSON, f"nesting deeper than {max_depth} levels")
    return value


_NOT_QUOTES = bytes(b for b in range(256) if b not in b'"[]{}')


def _depth(raw: bytes) -> int:
    """Deepest nesting of a document already known to be valid JSON.

    Strings are cut out first (a bracket inside a string is not nesting), so
    only the brackets are walked: a few hundred steps at most for real events.
    The cut is done by bytes methods, not a regex, as facets make events large:
    once the escaped backslashes and then the escaped quotes are gone, every
    quote left delimits a string, so the brackets between the odd and even
    quotes are the ones inside strings.
    """
    kept = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_QUOTES)
    brackets = b"".join(kept.split(b'"')[::2])
    depth = deepest = 0
    for b in brackets:
        if b == 0x7B or b == 0x5B:  # { [
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


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
