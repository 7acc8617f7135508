"""The one settings object: environment variables prefixed ``LINEAGE_``.

Only ``processor.cli`` reads the environment; everything else is handed the
values it needs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from processor.core.pipeline import Limits
from processor.core.rules import MixMode, MixRule


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Processor settings; every field is ``LINEAGE_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="LINEAGE_", extra="ignore")

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port]"
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Redis URL (redis:// or rediss://)"
    )
    input_topics: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["openlineage.events"], description="comma-separated input topics"
    )
    dlq_topic: str = Field("openlineage.events.dlq", description="dead-letter topic")
    control_topic: str = Field("openlineage.control", description="control topic (deletes)")
    internal_namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["snowflake://*"],
        description="comma-separated shell-style globs of internal dataset namespaces",
    )
    mix_rule: MixMode = Field(MixMode.MIXED, description="mixed (edges must cross) or any")
    dedup_ttl_seconds: int = Field(7 * 24 * 3600, gt=0, description="lifetime of dedup keys")
    max_event_bytes: int = Field(1024 * 1024, gt=0, description="larger messages: too_large")
    max_name_length: int = Field(1000, gt=0, description="longer dataset names: name_too_long")
    max_json_depth: int = Field(64, gt=0, description="deeper JSON: invalid_json")
    max_edges_per_event: int = Field(
        10_000, gt=0, description="more candidate edges (inputs x outputs): too_many_edges"
    )
    strict_profile: bool = Field(False, description="also require producer and schemaURL")
    web_port: int = Field(6066, ge=0, le=65535, description="HTTP port: API, metrics, health")
    web_host: str = Field("0.0.0.0", description="HTTP bind address")
    group_id: str = Field("lineage-processor", description="Kafka consumer group")
    redis_prefix: str = Field("lineage", description="prefix of every Redis key")
    batch_size: int = Field(1000, gt=0, le=100_000, description="messages per batch")
    batch_timeout_ms: int = Field(200, gt=0, description="max wait to fill a batch")
    retry_max_backoff_seconds: float = Field(
        30.0, gt=0, description="cap of the backoff while a dependency is down"
    )
    kafka_session_timeout_ms: int = Field(
        10_000, gt=0, description="consumer group session timeout (ms)"
    )
    kafka_heartbeat_interval_ms: int = Field(
        1_000, gt=0, description="consumer group heartbeat interval (ms)"
    )
    redis_timeout_seconds: float = Field(
        10.0, gt=0, description="socket timeout of one Redis call; then it is retried"
    )
    classifier_processes: int | None = Field(
        None,
        ge=0,
        le=64,
        description="helper processes that classify messages; 0 classifies in the worker "
        "process; unset: 1 when the machine has 2 or more cores, else 0",
    )
    retention_days: int | None = Field(
        None,
        gt=0,
        le=36_500,
        description="hide edges whose lastSeen is older than this many days from queries "
        "and snapshots, and sweep them from Redis; unset keeps everything",
    )
    retention_sweep_seconds: float = Field(
        3600.0, gt=0, description="interval of the retention sweep (when retention is on)"
    )
    log_level: str = Field("info", description="debug, info, warning, error")
    log_format: Literal["text", "json"] = Field(
        "text", description="text, or json: one object per line with structured fields"
    )

    @field_validator("input_topics", "internal_namespaces", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("input_topics", "internal_namespaces")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one value is needed")
        return value

    def rule(self) -> MixRule:
        """The mix rule these settings describe (``ConfigurationError`` for a bad glob)."""
        return MixRule(self.mix_rule, self.internal_namespaces)

    def limits(self) -> Limits:
        """The per-message bounds these settings describe."""
        return Limits(
            max_event_bytes=self.max_event_bytes,
            max_depth=self.max_json_depth,
            max_name_length=self.max_name_length,
            max_edges_per_event=self.max_edges_per_event,
            strict_profile=self.strict_profile,
        )
