"""The one settings object: environment variables prefixed ``LINEAGE_``.

Only ``processor.cli`` reads the environment; everything else is handed the
values it needs. Secrets are ``SecretStr`` and the Redis URL's password is
masked in ``repr`` and dumps, so printing the settings never shows one; the
clients get them from ``adapters.connections``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Self

from pydantic import Field, FilePath, SecretStr, field_serializer, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from processor.core.pipeline import Limits
from processor.core.privileges import Privilege, TokenTable, parse_tokens
from processor.core.redact import redact_url
from processor.core.rules import MixMode, MixRule

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
MIN_TOKEN_LENGTH = 16
# RFC 6750's b64token: what a Bearer credential may hold, so that any HTTP
# client sends it unchanged.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


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
        "redis://127.0.0.1:6379/0",
        description="Redis URL (redis://, rediss:// for TLS, or unix://); a password in it "
        "is masked wherever the URL is shown",
    )
    redis_username: str | None = Field(
        None, description="Redis ACL user name (overrides one in the URL)"
    )
    redis_password: SecretStr | None = Field(
        None, description="Redis password (overrides one in the URL)"
    )
    redis_tls_ca_file: FilePath | None = Field(
        None, description="PEM file of the CAs that sign Redis's certificate (rediss:// only)"
    )
    redis_tls_cert_file: FilePath | None = Field(
        None, description="PEM client certificate for Redis (rediss:// only; with the key file)"
    )
    redis_tls_key_file: FilePath | None = Field(
        None, description="PEM private key of the client certificate (rediss:// only)"
    )
    redis_tls_verify: bool = Field(
        True, description="verify Redis's certificate and host name (rediss:// only)"
    )
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_sasl_mechanism: KafkaSaslMechanism = Field(
        "PLAIN", description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL protocols only)"
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password")
    kafka_ssl_ca_file: FilePath | None = Field(
        None, description="PEM file of the CAs that sign the brokers' certificates"
    )
    kafka_ssl_cert_file: FilePath | None = Field(
        None, description="PEM client certificate for the brokers (with the key file)"
    )
    kafka_ssl_key_file: FilePath | None = Field(
        None, description="PEM private key of the client certificate"
    )
    http_token: SecretStr | None = Field(
        None,
        description="bearer token every HTTP request needs, except /metrics, /healthz, "
        "/readyz and the UI's static files; unset: no authentication",
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
    max_column_edges_per_event: int = Field(
        10_000, gt=0, description="more column edges in one event: none folded (too_many)"
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
    kafka_fetch_max_wait_ms: int = Field(
        100,
        gt=0,
        le=30_000,
        description="longest a fetch may wait on partitions with nothing new (ms); "
        "bounds the time from produce to graph on brokers that hold a fetch that long",
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
    folds_in_flight: int = Field(
        4,
        gt=0,
        le=64,
        description="batches of distinct partitions whose Redis fold may run at the same "
        "time; a partition's batches fold one after the other",
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
    on_graph_loss: Literal["rebuild", "halt"] = Field(
        "rebuild",
        description="when Redis lost the graph: rebuild it from the log while consuming, or "
        "halt: fold nothing until an operator runs `lineage-processor rebuild`",
    )
    graph_check_seconds: float = Field(
        1.0, gt=0, le=60, description="interval of the check that Redis still holds the graph"
    )
    allow_truncated_log: bool = Field(
        False,
        description="let a rebuild (the worker's healing one) switch to a graph built from a "
        "log whose beginning retention has deleted (`rebuild --allow-truncated-log`)",
    )
    allow_redis_eviction: bool = Field(
        False,
        description="start even if Redis's maxmemory-policy is not noeviction (an evicting "
        "Redis drops graph keys silently); a warning is logged",
    )
    log_level: str = Field("info", description="debug, info, warning, error")
    log_format: Literal["text", "json"] = Field(
        "text", description="text, or json: one object per line with structured fields"
    )
    # --- HTTP ingest gateway (docs/design.md section 8a) ---
    http_tokens: SecretStr | None = Field(
        None,
        description="comma-separated PRIVILEGES:TOKEN entries, privileges joined by + "
        "(ingest, delete, read), e.g. ingest:<t1>,ingest+delete:<t2>,read:<t3>; the "
        "gateway and the worker's API honour them; LINEAGE_HTTP_TOKEN is one more read token",
    )
    ingest_port: int = Field(
        5000, ge=0, le=65535, description="HTTP port of `lineage-processor ingest`"
    )
    ingest_host: str = Field("0.0.0.0", description="bind address of the ingest gateway")
    ingest_processes: int = Field(
        0,
        ge=0,
        le=256,
        description="gateway processes sharing the port (SO_REUSEPORT); 0: one per CPU "
        "core the process may use; 1 in Kubernetes, where replicas scale it",
    )
    ingest_max_batch_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="largest decompressed body of POST /api/v1/lineage/batch (one event: "
        "LINEAGE_MAX_EVENT_BYTES)",
    )
    ingest_max_batch_events: int = Field(
        10_000, gt=0, description="most events in one POST /api/v1/lineage/batch"
    )
    ingest_publish_timeout_seconds: float = Field(
        4.0,
        gt=0,
        description="longest the gateway waits for the broker's acknowledgement before "
        "answering 503 (under the openlineage-python client's 5 s request timeout)",
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

    @field_validator("http_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # The message never holds the value: it would end up in a log.
        if value is None:
            return None
        token = value.get_secret_value()
        if len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"needs at least {MIN_TOKEN_LENGTH} characters (unset it to turn "
                "authentication off)"
            )
        if _TOKEN.fullmatch(token) is None:
            raise ValueError("may hold only letters, digits and - . _ ~ + / (= at the end)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _connections_fit_together(self) -> Self:
        # Combinations that would fail later, at the first connection, with an
        # error far from the setting that caused it.
        tls_redis = self.redis_url.lower().startswith("rediss://")
        used = self._files_set("redis_tls")
        if not self.redis_tls_verify:
            used.append("LINEAGE_REDIS_TLS_VERIFY")
        if used and not tls_redis:
            raise ValueError(f"{', '.join(used)}: TLS settings need a rediss:// LINEAGE_REDIS_URL")
        self._pair("redis_tls")
        protocol = self.kafka_security_protocol
        sasl = protocol.startswith("SASL_")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                f"LINEAGE_KAFKA_SECURITY_PROTOCOL={protocol} needs LINEAGE_KAFKA_SASL_USERNAME "
                "and LINEAGE_KAFKA_SASL_PASSWORD"
            )
        if not sasl and (self.kafka_sasl_username or self.kafka_sasl_password):
            raise ValueError(
                "LINEAGE_KAFKA_SASL_USERNAME/PASSWORD are set but "
                f"LINEAGE_KAFKA_SECURITY_PROTOCOL is {protocol}: set SASL_SSL or SASL_PLAINTEXT"
            )
        kafka_ssl = self._files_set("kafka_ssl")
        if kafka_ssl and not protocol.endswith("SSL"):
            raise ValueError(
                f"{', '.join(kafka_ssl)}: need LINEAGE_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL, "
                f"not {protocol}"
            )
        self._pair("kafka_ssl")
        return self

    def _files_set(self, group: str) -> list[str]:
        """The variables of the group's CA, certificate and key files that are set."""
        return [
            f"LINEAGE_{group}_{part}_FILE".upper()
            for part in ("ca", "cert", "key")
            if getattr(self, f"{group}_{part}_file") is not None
        ]

    def _pair(self, group: str) -> None:
        cert, key = (getattr(self, f"{group}_{part}_file") for part in ("cert", "key"))
        if (cert is None) != (key is None):
            prefix = f"LINEAGE_{group.upper()}"
            raise ValueError(f"{prefix}_CERT_FILE and {prefix}_KEY_FILE go together: set both")

    @field_serializer("redis_url")
    def _masked_url(self, value: str) -> str:
        return redact_url(value)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name == "redis_url" else value

    def rule(self) -> MixRule:
        """The mix rule these settings describe (``ConfigurationError`` for a bad glob)."""
        return MixRule(self.mix_rule, self.internal_namespaces)

    @field_validator("http_tokens")
    @classmethod
    def _tokens_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_tokens(value.get_secret_value())  # its messages never hold a token
        return value

    def token_table(self) -> TokenTable:
        """The bearer tokens of LINEAGE_HTTP_TOKENS, and LINEAGE_HTTP_TOKEN as a read token."""
        grants: list[tuple[frozenset[Privilege], str]] = []
        if self.http_tokens is not None:
            grants += parse_tokens(self.http_tokens.get_secret_value())
        if self.http_token is not None:
            grants.append((frozenset({Privilege.READ}), self.http_token.get_secret_value()))
        return TokenTable.of(grants)

    def limits(self) -> Limits:
        """The per-message bounds these settings describe."""
        return Limits(
            max_event_bytes=self.max_event_bytes,
            max_depth=self.max_json_depth,
            max_name_length=self.max_name_length,
            max_edges_per_event=self.max_edges_per_event,
            max_column_edges_per_event=self.max_column_edges_per_event,
            strict_profile=self.strict_profile,
        )
