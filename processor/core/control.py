"""Control-topic messages: deletes (docs/design.md section 5).

``{"op": "delete", "source"?: {"namespace", "name"}, "target"?: {...},
"requestedAt": "<RFC 3339>"}``: source and target delete that edge, source
only every edge out of the source, target only every edge into the target.
A delete hides what it covers until a newer event brings it back.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from processor.core.decode import decode_object
from processor.core.identity import node_id
from processor.core.models import DatasetStr, EventTime
from processor.core.pipeline import Rejected
from processor.core.reasons import Reason
from processor.core.validate import describe_validation_error
from processor.errors import InvalidMessage


class DatasetRef(BaseModel):
    """A dataset named by a delete."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    namespace: DatasetStr
    name: DatasetStr


class DeleteMessage(BaseModel):
    """A delete request as published on the control topic."""

    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, title="Control-topic delete request"
    )
    op: Literal["delete"]
    source: DatasetRef | None = None
    target: DatasetRef | None = None
    requestedAt: EventTime

    @model_validator(mode="after")
    def _names_something(self) -> DeleteMessage:
        if self.source is None and self.target is None:
            raise ValueError("a delete needs a source, a target, or both")
        return self


class DeleteRequest(NamedTuple):
    """A validated delete, by node id, with its normalised time."""

    source_id: str | None
    target_id: str | None
    requested_at: str


def parse_control(raw: bytes | None, max_depth: int = 64) -> DeleteRequest | Rejected:
    """A delete request, or ``Rejected(invalid_control)`` saying what is wrong."""
    try:
        obj = decode_object(raw, max_depth)
    except InvalidMessage as exc:
        return Rejected(Reason.INVALID_CONTROL.value, exc.error)
    try:
        msg = DeleteMessage.model_validate(obj)
    except ValidationError as exc:
        return Rejected(Reason.INVALID_CONTROL.value, describe_validation_error(exc))
    return DeleteRequest(
        None if msg.source is None else node_id(msg.source.namespace, msg.source.name),
        None if msg.target is None else node_id(msg.target.namespace, msg.target.name),
        msg.requestedAt,
    )
