"""Dead-letter record headers (docs/design.md section 7): how they are written, and
their schema.

The DLQ record carries the original key and value unchanged; everything the
processor knows about why it was rejected travels in these headers. Reading
dead letters back is ``core.dlq_review``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from processor.core.reasons import Reason

# Headers are bounded so that one hostile message cannot make a DLQ record
# larger than the broker accepts; the value itself is the full original.
MAX_ERROR_CHARS = 2000


def dlq_headers(
    *,
    reason: str,
    error: str,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    version: str,
    rule: str,
) -> list[tuple[str, bytes]]:
    """The ``lineage.*`` headers of one dead-letter record, UTF-8 encoded."""
    if len(error) > MAX_ERROR_CHARS:
        error = error[: MAX_ERROR_CHARS - 1] + "…"
    pairs = (
        ("lineage.reason", reason),
        ("lineage.error", error),
        ("lineage.source.topic", topic),
        ("lineage.source.partition", str(partition)),
        ("lineage.source.offset", str(offset)),
        ("lineage.source.timestamp", "" if timestamp_ms is None else str(timestamp_ms)),
        ("lineage.processor.version", version),
        ("lineage.rule", rule),
    )
    return [(k, v.encode("utf-8", "backslashreplace")) for k, v in pairs]


def _dropped_size(alias: str, description: str) -> str | None:
    """An optional header giving the size in bytes of a part the broker refused."""
    found: str | None = Field(None, alias=alias, description=description, pattern=r"^[0-9]+$")
    return found


class DlqHeaders(BaseModel):
    """The headers of a dead-letter record, as UTF-8 strings."""

    model_config = ConfigDict(
        title="Dead-letter record headers",
        populate_by_name=True,
        extra="allow",
    )
    reason: Reason = Field(alias="lineage.reason", description="reason code")
    error: str = Field(
        alias="lineage.error",
        description="human-readable message; names the field path for invalid_event",
        max_length=MAX_ERROR_CHARS,
    )
    source_topic: str = Field(alias="lineage.source.topic")
    source_partition: str = Field(alias="lineage.source.partition", pattern=r"^[0-9]+$")
    source_offset: str = Field(alias="lineage.source.offset", pattern=r"^[0-9]+$")
    source_timestamp: str = Field(
        alias="lineage.source.timestamp",
        description="Kafka timestamp of the original record, milliseconds since the epoch",
        pattern=r"^[0-9]*$",
    )
    processor_version: str = Field(alias="lineage.processor.version")
    rule: str = Field(
        alias="lineage.rule",
        description="mix rule in force, e.g. mixed;internal=snowflake://*",
    )
    value_dropped: str | None = _dropped_size(
        "lineage.value.dropped",
        "present when the broker refused the original value as too large: "
        "the record then has no value and this gives the original size in bytes",
    )
    key_dropped: str | None = _dropped_size(
        "lineage.key.dropped",
        "present when the key alone was still too large for the broker: "
        "the record then has neither key nor value and this gives the key's size in bytes",
    )
