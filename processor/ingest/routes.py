"""The gateway's routes (docs/design.md section 8a) and their handlers.

| route | privilege | answer |
|---|---|---|
| ``POST /api/v1/lineage`` | ingest | 201 (Marquez's path, the client's default) |
| ``POST /api/v1/lineage/batch`` | ingest | 200 with OpenLineage's batch summary |
| ``POST /api/v2/lineage/external-lineage`` | ingest | 200; 404 when the mix rule keeps no edge |
| ``DELETE /api/v2/lineage/external-lineage`` | delete | 200 once the delete is published |
| ``GET /healthz``, ``/readyz``, ``/metrics`` | none | liveness, broker readiness, metrics |

Steps 1-3 of section 3 run here with the worker's own code (``check``): what
fails them is answered 400 (413 for ``too_large``) and never published. What
passes is published as it came (the decompressed bytes), keyed as the
openlineage-python Kafka transport keys it, and answered only once acknowledged.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
from prometheus_client import CONTENT_TYPE_LATEST

from processor.core.control import parse_control
from processor.core.message_keys import message_key
from processor.core.pipeline import Classified, Limits, Rejected, classify
from processor.core.privileges import Privilege, TokenTable
from processor.core.reasons import Reason
from processor.core.rules import MixRule
from processor.core.timefmt import format_time
from processor.errors import BrokerUnavailable
from processor.ingest.answers import PUBLISHED_200, PUBLISHED_201, Answer, json_answer, refusal
from processor.ingest.body import BodyError
from processor.ingest.check import check_decoded, check_raw
from processor.ingest.dispatch import Dispatcher, Pending, Request, Route
from processor.ingest.metrics import IngestMetrics, exposition
from processor.ingest.publisher import GatewayPublisher, OutRecord, failure

EVENT = "/api/v1/lineage"
BATCH = "/api/v1/lineage/batch"
EXTERNAL = "/api/v2/lineage/external-lineage"
# The mix rule kept no edge: Snowflake answers 404; the event is published all the same.
NO_EDGE_REASONS = frozenset(
    {
        Reason.MIX_RULE_INTERNAL_ONLY.value,
        Reason.MIX_RULE_EXTERNAL_ONLY.value,
        Reason.NO_LINEAGE.value,
    }
)


Outcome = Answer | Pending | Awaitable[Answer]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic collection while a batch is decoded and checked: a batch is tens
    of thousands of objects, none in a cycle, and the passes their allocation
    triggers (walking the other requests' batches too) add a fifth to a batch
    event's CPU; what the batch leaves is freed by reference counting."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _load_array(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, Reason.INVALID_JSON.value, str(exc)) from None


@dataclass(frozen=True)
class GatewayConfig:
    """What the routes need from the settings."""

    input_topic: str
    control_topic: str
    rule: MixRule
    limits: Limits
    max_batch_bytes: int
    max_batch_events: int
    tokens: TokenTable


class Gateway:
    """The handlers, with the publisher and metrics they share."""

    def __init__(
        self, config: GatewayConfig, publisher: GatewayPublisher, metrics: IngestMetrics
    ) -> None:
        self.config = config
        self.publisher = publisher
        self.metrics = metrics
        # The labelled series of the hot path, looked up once.
        self._published = {r: metrics.events_published.labels(r) for r in (EVENT, BATCH, EXTERNAL)}
        self._publish_errors = metrics.publish_errors.labels("events")

    def routes(self) -> list[Route]:
        config = self.config
        event_bytes = config.limits.max_event_bytes
        return [
            Route(EVENT, "POST", self.post_event, Privilege.INGEST, event_bytes),
            Route(BATCH, "POST", self.post_batch, Privilege.INGEST, config.max_batch_bytes),
            Route(EXTERNAL, "POST", self.post_external, Privilege.INGEST, event_bytes),
            Route(EXTERNAL, "DELETE", self.delete_external, Privilege.DELETE),
            Route("/healthz", "GET", self.healthz, None),
            Route("/readyz", "GET", self.readyz, None),
            Route("/metrics", "GET", self.metrics_page, None),
        ]

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self.routes(), self.config.tokens, self.metrics)

    # --- events -------------------------------------------------------------------

    def _one_event(self, request: Request) -> OutRecord:
        """The record of a request's event, once it passed steps 1-3."""
        limits = self.config.limits
        body = request.body
        checked = check_raw(body, limits)
        if isinstance(checked, Rejected):
            status = 413 if checked.reason == Reason.TOO_LARGE.value else 400
            raise BodyError(status, checked.reason, checked.error)
        return OutRecord(self.config.input_topic, message_key(checked), body)

    def _publish_one(self, route: str, record: OutRecord, answer: Answer) -> Outcome:
        """``answer`` once the broker acknowledged ``record``: by a callback on the
        acknowledgement, or a coroutine before the producer is ready."""
        acked = self.publisher.submit(record)
        if acked is None:
            return self._publish_then(route, record, answer)
        published = self._published[route]
        tally = self.metrics.tally

        def settle() -> Answer:
            error = failure(acked)
            if error is not None:
                self._publish_errors.inc()
                raise error
            tally.inc(published)
            return answer

        return Pending(acked, settle)

    async def _publish_then(self, route: str, record: OutRecord, answer: Answer) -> Answer:
        await self._publish_events(route, [record])
        return answer

    async def _publish_events(self, route: str, records: list[OutRecord]) -> None:
        try:
            await self.publisher.publish(records)
        except BrokerUnavailable:
            self._publish_errors.inc()
            raise
        self._published[route].inc(len(records))

    def post_event(self, request: Request) -> Outcome:
        """One event, Marquez's and the openlineage-python client's default path."""
        return self._publish_one(EVENT, self._one_event(request), PUBLISHED_201)

    def post_external(self, request: Request) -> Outcome:
        """Snowflake's path: 404 with the reason when the mix rule keeps no edge."""
        record = self._one_event(request)
        verdict = classify(record.value, self.config.rule, self.config.limits)
        outcome = verdict.outcome if isinstance(verdict, Classified) else None
        answer = PUBLISHED_200
        if isinstance(outcome, Rejected) and outcome.reason in NO_EDGE_REASONS:
            answer = refusal(404, outcome.reason, outcome.error)
        return self._publish_one(EXTERNAL, record, answer)

    async def post_batch(self, request: Request) -> Answer:
        """OpenLineage 2-0-2 ``/lineage/batch``: the failing elements are listed,
        the others published together."""
        with _collector_paused():
            items = _load_array(request.body)
            records, failed = self._check_batch(items)
        received = len(items)
        del items  # freed before the broker's acknowledgement, not after
        try:
            await self.publisher.publish_keyed(self.config.input_topic, records)
        except BrokerUnavailable:
            self._publish_errors.inc()
            raise
        self._published[BATCH].inc(len(records))
        return json_answer(
            {
                "status": "partial_success" if failed else "success",
                "summary": {
                    "received": received,
                    "successful": len(records),
                    "failed": len(failed),
                    "retriable": 0,
                    "non_retriable": len(failed),
                },
                "failed_events": failed,
            }
        )

    def _check_batch(
        self, items: Any
    ) -> tuple[list[tuple[bytes | None, bytes]], list[dict[str, Any]]]:
        """The (key, value) records of a batch's elements that pass steps 1-3, and
        the others' ``failed_events``."""
        config = self.config
        if not isinstance(items, list):
            raise BodyError(400, Reason.INVALID_JSON.value, "a batch is a JSON array of events")
        if len(items) > config.max_batch_events:
            raise BodyError(
                413,
                "too_many_events",
                f"{len(items)} events is more than the limit of {config.max_batch_events}",
            )
        records: list[tuple[bytes | None, bytes]] = []
        failed: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                raw = orjson.dumps(item)
            except orjson.JSONEncodeError as exc:  # nesting past orjson's own bound
                verdict: Rejected | None = Rejected(Reason.INVALID_JSON.value, str(exc))
            else:
                verdict = check_decoded(item, raw, config.limits)
            if verdict is not None:
                self.metrics.events_rejected.labels(verdict.reason).inc()
                failed.append(
                    {
                        "index": index,
                        "reason": verdict.reason,
                        "error": verdict.error,
                        "retriable": False,
                    }
                )
                continue
            key = message_key(item) if isinstance(item, dict) else None
            records.append((key, raw))
        return records, failed

    # --- deletes ------------------------------------------------------------------

    async def delete_external(self, request: Request) -> Answer:
        """Snowflake's DELETE: a delete request (docs/design.md section 5) on the control
        topic, ``requestedAt`` the gateway's clock."""
        query = {k: v[0] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
        message: dict[str, Any] = {"op": "delete"}
        for side in ("source", "target"):
            namespace = query.get(f"{side}Namespace")
            name = query.get(f"{side}Name")
            if namespace is None and name is None:
                continue
            if namespace is None or name is None:
                raise BodyError(
                    400,
                    Reason.INVALID_CONTROL.value,
                    f"{side}Namespace and {side}Name go together",
                )
            message[side] = {"namespace": namespace, "name": name}
        if len(message) == 1:
            raise BodyError(
                400,
                Reason.INVALID_CONTROL.value,
                "a delete needs sourceNamespace and sourceName, targetNamespace and "
                "targetName, or both",
            )
        message["requestedAt"] = format_time(datetime.now(UTC))
        value = orjson.dumps(message)
        parsed = parse_control(value)
        if isinstance(parsed, Rejected):
            raise BodyError(400, parsed.reason, parsed.error)
        try:
            await self.publisher.publish([OutRecord(self.config.control_topic, None, value)])
        except BrokerUnavailable:
            self.metrics.publish_errors.labels("control").inc()
            raise
        self.metrics.deletes_published.inc()
        return json_answer({"status": "published", "delete": message})

    # --- operations ---------------------------------------------------------------

    async def healthz(self, request: Request) -> Answer:
        """Liveness: the event loop answers; ``process`` says which of the
        gateway's processes did (LINEAGE_INGEST_PROCESSES)."""
        return json_answer({"status": "ok", "process": os.getpid()})

    async def readyz(self, request: Request) -> Answer:
        """Readiness: the broker answers a metadata request."""
        why = await self.publisher.ready()
        if why is None:
            return json_answer({"status": "ready"})
        return json_answer({"status": "not ready", "error": why}, 503)

    async def metrics_page(self, request: Request) -> Answer:
        return Answer(200, exposition(self.metrics), CONTENT_TYPE_LATEST)
