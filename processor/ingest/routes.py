"""The gateway's routes (docs/design.md section 8a) as an aiohttp application.

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

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from processor.core.control import parse_control
from processor.core.message_keys import message_key
from processor.core.pipeline import Classified, Limits, Rejected, classify
from processor.core.privileges import Privilege, TokenTable
from processor.core.reasons import Reason
from processor.core.rules import MixRule
from processor.core.timefmt import format_time
from processor.errors import BrokerUnavailable
from processor.ingest.answers import gateway_middleware, json_answer, refusal
from processor.ingest.body import BodyError, check_content_type, read_body
from processor.ingest.check import check_decoded, check_raw
from processor.ingest.metrics import IngestMetrics, exposition
from processor.ingest.publisher import GatewayPublisher, OutRecord

EVENT = "/api/v1/lineage"
BATCH = "/api/v1/lineage/batch"
EXTERNAL = "/api/v2/lineage/external-lineage"
PUBLIC = frozenset({"/healthz", "/readyz", "/metrics"})
PRIVILEGES = {
    (EVENT, "POST"): Privilege.INGEST,
    (BATCH, "POST"): Privilege.INGEST,
    (EXTERNAL, "POST"): Privilege.INGEST,
    (EXTERNAL, "DELETE"): Privilege.DELETE,
}
# The mix rule kept no edge: Snowflake answers 404; the event is published all the same.
NO_EDGE_REASONS = frozenset(
    {
        Reason.MIX_RULE_INTERNAL_ONLY.value,
        Reason.MIX_RULE_EXTERNAL_ONLY.value,
        Reason.NO_LINEAGE.value,
    }
)


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

    def app(self) -> web.Application:
        """The aiohttp application (serve it with ``auto_decompress=False``: the
        body reader inflates under the bound itself)."""
        app = web.Application(
            middlewares=[gateway_middleware(self.config.tokens, PRIVILEGES, PUBLIC, self.metrics)],
            client_max_size=self.config.max_batch_bytes,
        )
        app.router.add_post(EVENT, self.post_event)
        app.router.add_post(BATCH, self.post_batch)
        app.router.add_post(EXTERNAL, self.post_external)
        app.router.add_delete(EXTERNAL, self.delete_external)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics_page)
        return app

    # --- events -------------------------------------------------------------------

    async def _one_event(self, request: web.Request, route: str) -> Classified | None:
        """Read, check and publish one event; on Snowflake's path, its
        classification for the answer (the mix rule's verdict)."""
        check_content_type(request)
        limits = self.config.limits
        body = await read_body(request, limits.max_event_bytes)
        checked = check_raw(body, limits)
        if isinstance(checked, Rejected):
            status = 413 if checked.reason == Reason.TOO_LARGE.value else 400
            raise BodyError(status, checked.reason, checked.error)
        verdict = classify(body, self.config.rule, limits) if route == EXTERNAL else None
        record = OutRecord(self.config.input_topic, message_key(checked), body)
        await self._publish_events(route, [record])
        return verdict if isinstance(verdict, Classified) else None

    async def _publish_events(self, route: str, records: list[OutRecord]) -> None:
        try:
            await self.publisher.publish(records)
        except BrokerUnavailable:
            self.metrics.publish_errors.labels("events").inc()
            raise
        self.metrics.events_published.labels(route).inc(len(records))

    async def post_event(self, request: web.Request) -> web.Response:
        """One event, Marquez's and the openlineage-python client's default path."""
        await self._one_event(request, EVENT)
        return json_answer({"status": "published"}, 201)

    async def post_external(self, request: web.Request) -> web.Response:
        """Snowflake's path: 404 with the reason when the mix rule keeps no edge."""
        verdict = await self._one_event(request, EXTERNAL)
        outcome = verdict.outcome if verdict is not None else None
        if isinstance(outcome, Rejected) and outcome.reason in NO_EDGE_REASONS:
            return refusal(404, outcome.reason, outcome.error)
        return json_answer({"status": "published"})

    async def post_batch(self, request: web.Request) -> web.Response:
        """OpenLineage 2-0-2 ``/lineage/batch``: the failing elements are listed,
        the others published together."""
        check_content_type(request)
        config = self.config
        body = await read_body(request, config.max_batch_bytes)
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BodyError(400, Reason.INVALID_JSON.value, str(exc)) from None
        if not isinstance(items, list):
            raise BodyError(400, Reason.INVALID_JSON.value, "a batch is a JSON array of events")
        if len(items) > config.max_batch_events:
            raise BodyError(
                413,
                "too_many_events",
                f"{len(items)} events is more than the limit of {config.max_batch_events}",
            )
        records: list[OutRecord] = []
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
            records.append(OutRecord(config.input_topic, key, raw))
        await self._publish_events(BATCH, records)
        return json_answer(
            {
                "status": "partial_success" if failed else "success",
                "summary": {
                    "received": len(items),
                    "successful": len(records),
                    "failed": len(failed),
                    "retriable": 0,
                    "non_retriable": len(failed),
                },
                "failed_events": failed,
            }
        )

    # --- deletes ------------------------------------------------------------------

    async def delete_external(self, request: web.Request) -> web.Response:
        """Snowflake's DELETE: a delete request (docs/design.md section 5) on the control
        topic, ``requestedAt`` the gateway's clock."""
        query = request.query
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

    async def healthz(self, request: web.Request) -> web.Response:
        """Liveness: the event loop answers; ``process`` says which of the
        gateway's processes did (LINEAGE_INGEST_PROCESSES)."""
        return json_answer({"status": "ok", "process": os.getpid()})

    async def readyz(self, request: web.Request) -> web.Response:
        """Readiness: the broker answers a metadata request."""
        why = await self.publisher.ready()
        if why is None:
            return json_answer({"status": "ready"})
        return json_answer({"status": "not ready", "error": why}, 503)

    async def metrics_page(self, request: web.Request) -> web.Response:
        # aiohttp refuses a charset in content_type; it is fine as a header.
        return web.Response(
            body=exposition(self.metrics),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )
