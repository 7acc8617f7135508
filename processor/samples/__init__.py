"""OpenLineage sample events, made and serialised by the real openlineage-python client.

Used by the tests, the benchmark and ``lineage-processor dev --demo``. The client is a
development dependency: it is imported lazily, so the processor itself runs without it.

Every value is what ``openlineage.client.transport.kafka.KafkaTransport.emit`` puts on the
wire: ``Serde.to_json(event).encode("utf-8")`` (``json.dumps`` with sorted keys, the default
``", "``/``": "`` separators and ASCII escaping; nulls and ``None`` facet fields dropped).
Keys follow the transport's convention: ``run:{job namespace}/{job name}``, or the root (else
the parent) job of the run's ``parent`` facet when there is one. Events also carry the
``tags`` run facet that ``OpenLineageClient.emit`` adds (``openlineage_client_version``).

The package: :mod:`~processor.samples.client` (the client wrapper and single events),
:mod:`~processor.samples.mix` (``realistic_mix``) and :mod:`~processor.samples.demo`
(``demo_events``). Importing it does not import the client.
"""

from __future__ import annotations

from processor.samples.client import DEFAULT_PRODUCER, message_key, run_event
from processor.samples.demo import demo_events
from processor.samples.mix import mix_composition, realistic_mix

__all__ = [
    "DEFAULT_PRODUCER",
    "demo_events",
    "message_key",
    "mix_composition",
    "realistic_mix",
    "run_event",
]
