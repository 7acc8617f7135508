"""Validation of a decoded message against the lineage profile (docs/design.md section 2)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from processor.core.models import DatasetEvent, JobEvent, RunEvent
from processor.core.reasons import Reason
from processor.errors import InvalidMessage

AnyEvent = RunEvent | DatasetEvent | JobEvent


def validate_event(obj: dict[str, Any], *, strict_profile: bool = False) -> AnyEvent:
    """Return the event model for ``obj`` or raise ``InvalidMessage(invalid_event)``.

    An object with neither ``run`` nor ``eventType`` is static lineage: a
    JobEvent when it has ``job``, a DatasetEvent when it has ``dataset``.
    """
    model: type[RunEvent] | type[DatasetEvent] | type[JobEvent] = RunEvent
    if "run" not in obj and "eventType" not in obj:
        if "job" in obj:
            model = JobEvent
        elif "dataset" in obj:
            model = DatasetEvent
    try:
        event = model.model_validate(obj)
    except ValidationError as exc:
        raise InvalidMessage(Reason.INVALID_EVENT, describe_validation_error(exc)) from None
    if strict_profile:
        for field in ("producer", "schemaURL"):
            if not isinstance(obj.get(field), str):
                raise InvalidMessage(
                    Reason.INVALID_EVENT, f"{field}: required by the strict profile"
                )
    return event


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the field path of the first error, e.g. ``outputs[0].name: ...``."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    text = f"{field_path(first['loc'])}: {first['msg']}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more)"
    return text


def field_path(loc: tuple[int | str, ...]) -> str:
    """``('outputs', 0, 'name')`` -> ``outputs[0].name``; the empty path is ``(root)``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"
