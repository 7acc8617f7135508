"""Steps 1-3 of docs/design.md section 3 (size, JSON, the lineage profile) as the
gateway runs them, with the worker's own functions.

The gateway refuses only what fails these steps, so it stops there: the
content hash and the mix rule (steps 4-7) are the worker's, and cost as much
again (Snowflake's path, which answers by the mix rule, runs ``classify``
whole). A batch's elements are already decoded with the array: an element is
decoded again only where the depth bound could matter or to name its type.
An event that plainly fits the profile is told so by ``profile_check`` without
building the models; any other is validated by the worker's ``validate_event``,
whose verdict and message the answer then carries.
"""

from __future__ import annotations

from typing import Any

from processor.core.decode import decode_object
from processor.core.pipeline import Limits, Rejected
from processor.core.reasons import Reason
from processor.core.validate import validate_event
from processor.errors import InvalidMessage
from processor.ingest.profile_check import fits

# Every byte but the ones that open a level of nesting.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"{[")


def _too_large(raw: bytes, limits: Limits) -> Rejected:
    return Rejected(
        Reason.TOO_LARGE.value,
        f"{len(raw)} bytes is more than the limit of {limits.max_event_bytes}",
    )


def check_raw(raw: bytes, limits: Limits) -> dict[str, Any] | Rejected:
    """The decoded event, or why steps 1-3 refuse ``raw``."""
    if len(raw) > limits.max_event_bytes:
        return _too_large(raw, limits)
    try:
        obj = decode_object(raw, limits.max_depth)
        _validate(obj, limits)
    except InvalidMessage as exc:
        return Rejected(str(exc.reason), exc.error)
    return obj


def check_decoded(item: Any, raw: bytes, limits: Limits) -> Rejected | None:
    """None when ``item`` (``raw`` its JSON) passes steps 1-3, else why not."""
    if len(raw) > limits.max_event_bytes:
        return _too_large(raw, limits)
    try:
        # Fewer brackets than the depth bound cannot nest deeper than it (counted
        # in one pass: what is left after deleting every other byte).
        if not isinstance(item, dict) or len(raw.translate(None, _NOT_BRACKETS)) > limits.max_depth:
            item = decode_object(raw, limits.max_depth)
        _validate(item, limits)
    except InvalidMessage as exc:
        return Rejected(str(exc.reason), exc.error)
    return None


def _validate(event: dict[str, Any], limits: Limits) -> None:
    """Step 3: raises ``InvalidMessage`` as the worker's ``validate_event`` does."""
    if limits.strict_profile or not fits(event):
        validate_event(event, strict_profile=limits.strict_profile)
