"""The lazily imported openlineage-python client, and single events made with it.

:class:`Client` holds the pieces of the client that the samples use and a Kafka
transport whose producer is replaced by a list, so that every event is serialised
by the client's own code rather than a copy of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEFAULT_PRODUCER",
    "Client",
    "Dataset",
    "get_client",
    "message_key",
    "run_event",
]

DEFAULT_PRODUCER = "https://github.com/lineage-processor/lineage-processor/tree/main/samples"
_INSTALL_HINT = "pip install 'lineage-processor[dev]'"

Dataset = tuple[str, str]


class Client:
    """The lazily imported pieces of openlineage-python, and a capturing Kafka transport."""

    def __init__(self) -> None:
        try:
            from openlineage.client import event_v2, facet_v2
            from openlineage.client.constants import __version__
            from openlineage.client.transport.kafka import KafkaConfig, KafkaTransport
            from openlineage.client.uuid import generate_new_uuid
        except ImportError as exc:  # pragma: no cover - depends on the environment
            msg = (
                "processor.samples needs the openlineage-python client "
                f"(a development dependency): {_INSTALL_HINT}"
            )
            raise ImportError(msg) from exc
        self.ev: Any = event_v2
        self.fc: Any = facet_v2
        self.version: str = __version__
        self.new_uuid: Any = generate_new_uuid
        captured: list[tuple[str | None, bytes]] = []

        class _Sink:  # stands in for confluent_kafka.Producer
            def produce(self, topic: str, key: str | None, value: bytes, **_: Any) -> None:
                captured.append((key, value))

            def flush(self, timeout: float = -1) -> int:
                return 0

        class _Capture(KafkaTransport):
            def _setup_producer(self, config: dict[str, str]) -> None:
                self.producer = _Sink()  # type: ignore[assignment]

        self._captured = captured
        self._transport: Any = _Capture(KafkaConfig(config={}, topic="openlineage.events"))

    def emit(self, event: Any) -> tuple[bytes, bytes]:
        """(key, value) exactly as the client's Kafka transport would produce them."""
        self._transport.emit(event)
        key, value = self._captured.pop()
        return (key or "").encode("utf-8"), value

    def tags_facet(self) -> Any:
        tags = self.fc.tags_run
        return tags.TagsRunFacet(
            tags=[
                tags.TagsRunFacetFields(
                    "openlineage_client_version", self.version, "OPENLINEAGE_CLIENT"
                )
            ]
        )

    def event(
        self,
        *,
        event_type: str,
        job: Dataset,
        inputs: Sequence[Dataset],
        outputs: Sequence[Dataset],
        event_time: str,
        run_id: str,
        producer: str,
        dataset_facets: Mapping[Dataset, Mapping[str, Any]] | None = None,
        output_facets: Mapping[Dataset, Mapping[str, Any]] | None = None,
        job_facets: Mapping[str, Any] | None = None,
        run_facets: Mapping[str, Any] | None = None,
        client_tags: bool = True,
    ) -> Any:
        ev = self.ev
        dfacets = dataset_facets or {}
        ofacets = output_facets or {}
        tags = {"tags": self.tags_facet()} if client_tags else {}
        return ev.RunEvent(
            eventType=ev.RunState(event_type),
            eventTime=event_time,
            run=ev.Run(runId=run_id, facets={**(run_facets or {}), **tags}),
            job=ev.Job(namespace=job[0], name=job[1], facets=dict(job_facets or {})),
            inputs=[
                ev.InputDataset(ns, nm, facets=dict(dfacets.get((ns, nm), {}))) for ns, nm in inputs
            ],
            outputs=[
                ev.OutputDataset(
                    ns,
                    nm,
                    facets=dict(dfacets.get((ns, nm), {})),
                    outputFacets=dict(ofacets.get((ns, nm), {})),
                )
                for ns, nm in outputs
            ],
            producer=producer,
        )


_CLIENT: Client | None = None


def get_client() -> Client:
    """The process's one :class:`Client`, made on first use (importing needs no client)."""
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = Client()
    return _CLIENT


# --------------------------------------------------------------------------- single events


def message_key(job_namespace: str, job_name: str) -> bytes:
    """The Kafka key the openlineage-python client uses for a run of a job (no parent facet)."""
    return f"run:{job_namespace}/{job_name}".encode()


def _time_str(value: datetime | str | None) -> str:
    if value is None:
        return datetime.now(UTC).isoformat()
    if isinstance(value, datetime):
        return value.isoformat()  # a naive datetime gets no offset, which means UTC
    return value


def run_event(
    *,
    event_type: str = "COMPLETE",
    job: tuple[str, str],
    inputs: Sequence[tuple[str, str]] = (),
    outputs: Sequence[tuple[str, str]] = (),
    event_time: datetime | str | None = None,
    run_id: str | None = None,
    dataset_types: Mapping[tuple[str, str], str] | None = None,
    producer: str = DEFAULT_PRODUCER,
) -> bytes:
    """One RunEvent as the client's Kafka transport serialises it (the message value).

    ``job``, ``inputs`` and ``outputs`` are ``(namespace, name)`` pairs. ``event_time``
    defaults to now (UTC), ``run_id`` to a fresh UUIDv7 as the client makes them.
    ``dataset_types`` adds a ``datasetType`` dataset facet (``DatasetTypeDatasetFacet``,
    field ``datasetType``) to the named datasets. The key is :func:`message_key`.
    """
    cl = get_client()
    types = dataset_types or {}
    facets = {
        ds: {"datasetType": cl.fc.dataset_type_dataset.DatasetTypeDatasetFacet(datasetType=t)}
        for ds, t in types.items()
    }
    event = cl.event(
        event_type=event_type,
        job=job,
        inputs=inputs,
        outputs=outputs,
        event_time=_time_str(event_time),
        run_id=run_id or str(cl.new_uuid()),
        producer=producer,
        dataset_facets=facets,
    )
    return cl.emit(event)[1]
