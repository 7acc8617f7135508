"""OpenLineage sample events, made and serialised by the real openlineage-python client.

Used by the tests, the benchmark and ``lineage-processor dev --demo``. The client is a
development dependency: it is imported lazily, so the processor itself runs without it.

Every value is what ``openlineage.client.transport.kafka.KafkaTransport.emit`` puts on the
wire: ``Serde.to_json(event).encode("utf-8")`` (``json.dumps`` with sorted keys, the default
``", "``/``": "`` separators and ASCII escaping; nulls and ``None`` facet fields dropped).
Keys follow the transport's convention: ``run:{job namespace}/{job name}``, or the root (else
the parent) job of the run's ``parent`` facet when there is one. Events also carry the
``tags`` run facet that ``OpenLineageClient.emit`` adds (``openlineage_client_version``).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "DEFAULT_PRODUCER",
    "demo_events",
    "message_key",
    "mix_composition",
    "realistic_mix",
    "run_event",
]

DEFAULT_PRODUCER = "https://github.com/lineage-processor/lineage-processor/tree/main/samples"
_INSTALL_HINT = "pip install 'lineage-processor[dev]'"

Dataset = tuple[str, str]


# --------------------------------------------------------------------------- the client


class _Client:
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


_CLIENT: _Client | None = None


def _client() -> _Client:
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = _Client()
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
    cl = _client()
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


# --------------------------------------------------------------------------- a realistic mix

_BASE_TIME = datetime(2026, 3, 1, tzinfo=UTC)
_BASE_MS = int(_BASE_TIME.timestamp() * 1000)
_RUN_SLOT = "a1a1a1a1-a1a1-4a1a-8a1a-a1a1a1a1a1a1"
_PARENT_SLOT = "b2b2b2b2-b2b2-4b2b-8b2b-b2b2b2b2b2b2"
_TIME_SLOT = "1999-09-09T09:09:09.090909+00:00"
_SLOT_RE = re.compile(
    "|".join(re.escape(s) for s in (_RUN_SLOT, _PARENT_SLOT, _TIME_SLOT)).join("()").encode()
)
_SLOT_INDEX = {_RUN_SLOT.encode(): 0, _PARENT_SLOT.encode(): 1, _TIME_SLOT.encode(): 2}

_EXTERNAL = {
    "postgres": ("postgres://orders-db.prod:5432", "postgres://crm-db.prod:5432"),
    "s3": ("s3://acme-datalake", "s3://acme-exports"),
    "kafka": ("kafka://kafka-prod-1.acme.internal:9092",),
}
_DOMAINS = ("sales", "orders", "customers", "payments", "inventory", "shipping", "marketing", "web")
_ENTITIES: tuple[str, ...] = (
    "events",
    "orders",
    "order_items",
    "accounts",
    "invoices",
    "refunds",
    "sessions",
)
_ENTITIES += ("products", "stock_levels", "campaigns", "clicks", "deliveries", "subscriptions")
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "BIGINT"),
    ("customer_id", "BIGINT"),
    ("amount", "DECIMAL(18,2)"),
)
_COLUMNS += (("currency", "VARCHAR(3)"), ("created_at", "TIMESTAMP"), ("status", "VARCHAR"))
_COLUMNS += (("updated_at", "TIMESTAMP"), ("region", "VARCHAR"), ("sku", "VARCHAR"))
_COLUMNS += (("quantity", "INTEGER"), ("email", "VARCHAR"), ("is_active", "BOOLEAN"))
_PRODUCERS = {
    "AIRFLOW": "https://github.com/apache/airflow/tree/providers-openlineage/2.3.0",
    "DBT": "https://github.com/OpenLineage/OpenLineage/tree/{}/integration/dbt",
    "SPARK": "https://github.com/OpenLineage/OpenLineage/tree/{}/integration/spark",
    "FLINK": "https://github.com/OpenLineage/OpenLineage/tree/{}/integration/flink",
}
_TYPE_BY_SCHEME = {"postgres": "TABLE", "s3": "FILE", "kafka": "TOPIC"}


class _Template:
    """A serialised event whose run id, parent run id and event time are slots."""

    __slots__ = ("key", "parts", "slots")

    def __init__(self, key: bytes, value: bytes) -> None:
        pieces = _SLOT_RE.split(value)
        self.key = key
        self.parts = pieces[0::2]
        self.slots = [_SLOT_INDEX[p] for p in pieces[1::2]]

    def render(self, values: Sequence[bytes]) -> bytes:
        out = [self.parts[0]]
        for slot, part in zip(self.slots, self.parts[1:], strict=True):
            out.append(values[slot])
            out.append(part)
        return b"".join(out)


class _Universe:
    """Datasets, their facets, and pipeline templates, all derived from one seed."""

    def __init__(self, seed: int, unique_datasets: int, internal_namespace: str) -> None:
        self.seed = seed
        self.cl = _client()
        rng = random.Random(f"{seed}:datasets")
        self.internal: list[Dataset] = []
        self.external: dict[str, list[Dataset]] = {s: [] for s in _EXTERNAL}
        self.types: dict[Dataset, str] = {}
        self.schemas: dict[Dataset, list[tuple[str, str]]] = {}
        for i in range(max(unique_datasets, 8)):
            domain, entity = rng.choice(_DOMAINS), rng.choice(_ENTITIES)
            if i % 2 == 0:
                db = rng.choice(("RAW", "STAGING", "ANALYTICS"))
                ds = (internal_namespace, f"{db}.{domain.upper()}.{entity.upper()}_{i}")
                self.internal.append(ds)
                kind = "VIEW" if db == "ANALYTICS" and rng.random() < 0.3 else "TABLE"
            else:
                scheme = ("postgres", "s3", "kafka")[(i // 2) % 3]
                ns = rng.choice(_EXTERNAL[scheme])
                name = {
                    "postgres": f"{domain}.public.{entity}_{i}",
                    "s3": f"{rng.choice(('raw', 'exports', 'landing'))}/{domain}/{entity}_{i}/",
                    "kafka": f"prod.{domain}.{entity}_{i}.v1",
                }[scheme]
                ds = (ns, name)
                self.external[scheme].append(ds)
                kind = _TYPE_BY_SCHEME[scheme]
            if rng.random() < 0.25:
                self.types[ds] = kind
            if rng.random() < 0.12:
                self.schemas[ds] = rng.sample(_COLUMNS, rng.randint(2, 5))
        self._cache: dict[tuple[str, int], _Template] = {}

    def facets(self, ds: Dataset) -> dict[str, Any]:
        fc = self.cl.fc
        out: dict[str, Any] = {}
        if ds in self.schemas:
            fields = [
                fc.schema_dataset.SchemaDatasetFacetFields(name=n, type=t)
                for n, t in self.schemas[ds]
            ]
            out["schema"] = fc.schema_dataset.SchemaDatasetFacet(fields=fields)
        if ds in self.types:
            out["datasetType"] = fc.dataset_type_dataset.DatasetTypeDatasetFacet(
                datasetType=self.types[ds]
            )
        if ds[0].startswith("postgres://") and len(ds[1]) % 4 == 0:
            db = ds[1].split(".", 1)[0]
            out["dataSource"] = fc.datasource_dataset.DatasourceDatasetFacet(
                name=ds[0], uri=f"{ds[0]}/{db}"
            )
        return out

    def template(self, kind: str, idx: int) -> _Template:
        """``kind`` is mixed, internal, external, or a non-COMPLETE state (START, FAIL...)."""
        cached = self._cache.get((kind, idx))
        if cached is None:
            cached = self._cache[(kind, idx)] = self._build(kind, idx)
        return cached

    def _build(self, kind: str, idx: int) -> _Template:
        fc = self.cl.fc
        base = kind if kind in ("internal", "external") else "mixed"
        rng = random.Random(f"{self.seed}:{base}:{idx}")  # a state shares its mixed pipeline
        state = "COMPLETE" if kind == base else kind
        run_facets: dict[str, Any] = {}
        job_facets: dict[str, Any] = {}
        sql = None
        if base == "internal":
            inputs = rng.sample(self.internal, rng.randint(1, 3))
            outputs = rng.sample([d for d in self.internal if d not in inputs][:50], 1)
            model = outputs[0][1].rsplit(".", 1)[1].lower()
            job, integration, jtype = ("dbt://acme-analytics", f"analytics.{model}"), "DBT", "MODEL"
            sql = f"select * from {inputs[0][1]}"
        elif base == "external":
            scheme = rng.choice(("s3", "kafka", "postgres"))
            inputs = rng.sample(self.external[scheme], rng.randint(1, 2))
            outputs = rng.sample(self.external["s3"], 1)
            job, integration, jtype = (
                ("spark://prod-emr", f"archive_{scheme}_{idx}"),
                "SPARK",
                "JOB",
            )
        else:
            export = rng.random() < 0.25
            scheme = rng.choice(("postgres", "postgres", "s3", "kafka"))
            n_in, n_out = rng.choices((1, 2, 3), (50, 35, 15))[0], rng.choices((1, 2), (75, 25))[0]
            ext_in = rng.sample(self.external[scheme], n_in)
            if export:
                inputs = rng.sample(self.internal, n_in)
                outputs = rng.sample(self.external[rng.choice(("s3", "postgres"))], n_out)
            else:
                inputs = ext_in if rng.random() < 0.8 else [*ext_in[:2], rng.choice(self.internal)]
                outputs = rng.sample(self.internal, n_out)
            domain = rng.choice(_DOMAINS)
            if export or scheme == "postgres":
                dag = f"{'reverse_etl' if export else 'ingest'}_{domain}_{idx}"
                job, integration, jtype = (
                    ("airflow://prod", f"{dag}.load_{domain}"),
                    "AIRFLOW",
                    "TASK",
                )
                pr = fc.parent_run
                run_facets["parent"] = pr.ParentRunFacet(
                    run=pr.Run(runId=_PARENT_SLOT),
                    job=pr.Job(namespace="airflow://prod", name=dag),
                    root=pr.Root(
                        run=pr.RootRun(runId=_PARENT_SLOT),
                        job=pr.RootJob(namespace="airflow://prod", name=dag),
                    ),
                )
            elif scheme == "kafka":
                job, integration, jtype = ("flink://prod", f"{domain}-stream-{idx}"), "FLINK", "JOB"
            else:
                job, integration, jtype = (
                    ("spark://prod-emr", f"load_{domain}_{idx}"),
                    "SPARK",
                    "JOB",
                )
                run_facets["processing_engine"] = fc.processing_engine_run.ProcessingEngineRunFacet(
                    version="3.5.1", name="spark", openlineageAdapterVersion=self.cl.version
                )
        if rng.random() < 0.35:
            job_facets["jobType"] = fc.job_type_job.JobTypeJobFacet(
                processingType="STREAMING" if integration == "FLINK" else "BATCH",
                integration=integration,
                jobType=jtype,
            )
        if sql:
            job_facets["sql"] = fc.sql_job.SQLJobFacet(query=sql, dialect="snowflake")
        if state == "FAIL":
            run_facets["errorMessage"] = fc.error_message_run.ErrorMessageRunFacet(
                message="Connection reset by peer while reading source",
                programmingLanguage="python",
            )
        datasets = [*inputs, *outputs]
        ofacets = {}
        if state == "COMPLETE":
            stats = fc.output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet
            ofacets = {
                o: {
                    "outputStatistics": stats(
                        rowCount=rng.randint(1, 10**7), size=rng.randint(10**3, 10**10)
                    )
                }
                for o in outputs
                if rng.random() < 0.3
            }
        event = self.cl.event(
            event_type=state,
            job=job,
            inputs=inputs,
            outputs=outputs,
            event_time=_TIME_SLOT,
            run_id=_RUN_SLOT,
            producer=_PRODUCERS[integration].format(self.cl.version),
            dataset_facets={d: self.facets(d) for d in datasets},
            output_facets=ofacets,
            job_facets=job_facets,
            run_facets=run_facets,
            client_tags=integration in ("AIRFLOW", "DBT"),  # the Python client's integrations
        )
        return _Template(*self.cl.emit(event))


def _uuid7(ms: int, bits: int) -> bytes:
    """A UUIDv7 (the client's run id format) from a millisecond time and 74 random bits."""
    value = (ms << 80) | (7 << 76) | ((bits >> 62) << 64) | (2 << 62) | (bits & ((1 << 62) - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}".encode()


def _corrupt(value: bytes, how: int, rng: random.Random) -> bytes:
    if how == 0:  # bad JSON: a truncated write
        return value[: rng.randint(1, len(value) - 2)]
    doc = json.loads(value)
    if how == 1:  # missing job name
        del doc["job"]["name"]
    elif how == 2:  # bad eventTime
        doc["eventTime"] = rng.choice(
            ("2026-03-01", "2026-03-01T24:00:00Z", "yesterday", "2026/03/01 10:00:00", 1772323200)
        )
    else:  # non-UTF-8: a Latin-1 encoder upstream
        doc["job"]["name"] += "_café"
        return json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("latin-1")
    return json.dumps(doc, sort_keys=True).encode()


def mix_composition(n: int) -> dict[str, int]:
    """How many messages of each kind ``realistic_mix(n)`` makes, whatever the seed.

    Keys: ``mixed`` (accepted under the default rule), ``same_side`` (rejected by the mix
    rule), ``non_complete`` (ignored), ``duplicate`` (dropped as duplicates), ``invalid``
    (dead-lettered as ``invalid_json`` or ``invalid_event``).
    """
    counts = {
        "same_side": n * 10 // 100,
        "non_complete": n * 15 // 100,
        "duplicate": n * 10 // 100,
        "invalid": n * 5 // 100,
    }
    return {"mixed": n - sum(counts.values()), **counts}


def realistic_mix(
    n: int,
    seed: int = 0,
    *,
    internal_namespace: str = "snowflake://acme.eu-west-1",
    unique_datasets: int = 2000,
) -> list[tuple[bytes, bytes]]:
    """``n`` (key, value) messages shaped like a production OpenLineage topic.

    Proportions (exact counts, rounded down, the remainder going to the first group; see
    :func:`mix_composition`), shuffled deterministically for ``seed``:

    - 60% COMPLETE events crossing internal (``internal_namespace``) and external
      (postgres://, s3://, kafka://) datasets: ingests (external inputs, internal outputs;
      one in five also reads an internal table, giving a same-side edge that is skipped)
      and exports (internal to external); 1-3 inputs, 1-2 outputs;
    - 10% same-side COMPLETE events, about half internal only (dbt models) and half
      external only (Spark archive jobs);
    - 15% non-COMPLETE events (START, RUNNING, FAIL, ABORT) of the mixed pipelines;
    - 10% exact duplicates (same key and value) of earlier valid messages, mostly recent;
    - 5% invalid messages, in equal shares: truncated JSON, no ``job.name``, a bad
      ``eventTime`` (date only, hour 24, a number...), and non-UTF-8 bytes (Latin-1).

    Events come from a pool of pipelines (``unique_datasets // 2`` mixed ones, fewer
    same-side ones) built with the client; each message gets its own UUIDv7 run id (and
    parent run id for Airflow tasks) and an eventTime from 2026-03-01T00:00Z onwards, about
    0.5 s apart with up to 2 s of disorder. Values are ~0.6-2.5 KB, 1.2 KB on average;
    about a third of datasets carry a ``datasetType`` facet and half a ``schema`` facet.
    """
    if n <= 0:
        return []
    uni = _Universe(seed, unique_datasets, internal_namespace)
    rng = random.Random(seed)
    cats: list[str] = []
    for cat, count in mix_composition(n).items():
        cats += [cat] * count
    rng.shuffle(cats)
    first_valid = next(i for i, c in enumerate(cats) if c not in ("duplicate", "invalid"))
    cats[0], cats[first_valid] = cats[first_valid], cats[0]

    pool_mixed = max(1, unique_datasets // 2)
    pool_same = max(1, unique_datasets // 20)
    out: list[tuple[bytes, bytes]] = []
    valid: list[int] = []
    for i, cat in enumerate(cats):
        if cat == "duplicate":
            back = min(len(valid) - 1, int(rng.expovariate(1 / 200)))
            out.append(out[valid[-1 - back]])
            continue
        if cat == "same_side":
            kind, idx = rng.choice(("internal", "external")), rng.randrange(pool_same)
        else:
            idx = int(pool_mixed * rng.random() ** 1.3)  # some pipelines run more often
            states = ("START", "RUNNING", "FAIL", "ABORT")
            kind = rng.choice(states) if cat == "non_complete" else "mixed"
        t_us = i * 500_000 + rng.randrange(-2_000_000, 2_000_000)
        ms = _BASE_MS + t_us // 1000
        bits = rng.getrandbits(148)
        slots = (
            _uuid7(ms, bits & ((1 << 74) - 1)),
            _uuid7(ms - 60_000, bits >> 74),
            (_BASE_TIME + timedelta(microseconds=t_us)).isoformat().encode(),
        )
        tpl = uni.template(kind, idx)
        value = tpl.render(slots)
        if cat == "invalid":
            value = _corrupt(value, i % 4, rng)
        else:
            valid.append(i)
        out.append((tpl.key, value))
    return out


# --------------------------------------------------------------------------- the demo stream

_DEMO_NAMESPACES = {
    "sf": "snowflake://acme.eu-west-1",
    "orders": "postgres://orders-db.prod:5432",
    "crm": "postgres://crm-db.prod:5432",
    "lake": "s3://acme-datalake",
    "exports": "s3://acme-exports",
    "kafka": "kafka://kafka-prod-1.acme.internal:9092",
}
# job namespace, job name, parent DAG (or -) | inputs | outputs; datasets as alias:name
_DEMO_ESTATE = """
airflow://prod ingest_orders.extract_orders ingest_orders
    | orders:orders.public.orders orders:orders.public.order_items
    | sf:RAW.ORDERS.ORDERS sf:RAW.ORDERS.ORDER_ITEMS
airflow://prod ingest_crm.extract_customers ingest_crm
    | crm:crm.public.customers | sf:RAW.CRM.CUSTOMERS
spark://prod-emr clickstream_to_snowflake - | lake:raw/clickstream/ | sf:RAW.WEB.EVENTS
flink://prod payments-stream - | kafka:prod.payments.transactions.v1 | sf:RAW.PAYMENTS.TRANSACTIONS
dbt://acme-analytics analytics.stg_orders - | sf:RAW.ORDERS.ORDERS | sf:ANALYTICS.STAGING.STG_ORDERS
dbt://acme-analytics analytics.fct_revenue -
    | sf:ANALYTICS.STAGING.STG_ORDERS sf:RAW.CRM.CUSTOMERS | sf:ANALYTICS.MARTS.FCT_REVENUE
airflow://prod reverse_etl.export_revenue reverse_etl
    | sf:ANALYTICS.MARTS.FCT_REVENUE | exports:revenue/daily/ crm:crm.public.customer_ltv
spark://prod-emr archive_clickstream - | lake:raw/clickstream/ | lake:archive/clickstream/
"""


def _demo_estate() -> list[tuple[Dataset, list[Dataset], list[Dataset], str | None]]:
    def datasets(text: str) -> list[Dataset]:
        pairs = (token.split(":", 1) for token in text.split())
        return [(_DEMO_NAMESPACES[alias], name) for alias, name in pairs]

    estate = []
    for spec in _DEMO_ESTATE.replace("\n    |", " |").strip().splitlines():
        head, inputs, outputs = spec.split(" | ")
        job_ns, job_name, dag = head.split()
        estate.append(
            ((job_ns, job_name), datasets(inputs), datasets(outputs), None if dag == "-" else dag)
        )
    return estate


_DEMO_TYPES = {"kafka": "TOPIC", "s3": "FILE", "postgres": "TABLE"}


def demo_events(seed: int = 0) -> Iterator[tuple[bytes, bytes]]:
    """An endless stream of plausible pipeline runs, (key, value), timestamped now.

    A small estate: Airflow, Spark and Flink jobs load postgres/s3/kafka data into
    Snowflake, dbt models transform it inside Snowflake (same-side, so rejected by the
    ``mixed`` rule), and a reverse-ETL task exports a mart back out. Each run yields START,
    sometimes RUNNING, then COMPLETE (about 5% FAIL). Slowly, the estate drifts: now and
    then a job gains or loses an input table, or a new dated export dataset appears.
    The caller paces the stream (e.g. one message per second).
    """
    cl = _client()
    rng = random.Random(seed)
    pipelines = _demo_estate()
    runs = 0
    while True:
        job, inputs, outputs, dag = pipelines[rng.randrange(len(pipelines))]
        runs += 1
        if runs % 40 == 0:  # drift: a job picks up or drops an extra source
            extra = (inputs[0][0], f"{inputs[0][1].rstrip('/')}_archive_{runs // 40 % 5}")
            if extra in inputs:
                inputs.remove(extra)
            else:
                inputs.append(extra)
        if runs % 97 == 0:  # drift: the revenue export moves to a new versioned path
            export_outputs = pipelines[6][2]
            export_outputs[0] = (export_outputs[0][0], f"revenue/daily/v{runs // 97 + 1}/")
        run_id = str(cl.new_uuid())
        parent = None
        if dag:
            pr = cl.fc.parent_run
            dag_run = str(cl.new_uuid())
            parent = pr.ParentRunFacet(
                run=pr.Run(runId=dag_run),
                job=pr.Job(namespace=job[0], name=dag),
                root=pr.Root(
                    run=pr.RootRun(runId=dag_run), job=pr.RootJob(namespace=job[0], name=dag)
                ),
            )
        states = ["START"] + (["RUNNING"] if rng.random() < 0.3 else [])
        states.append("FAIL" if rng.random() < 0.05 else "COMPLETE")
        facets = {}
        for ds in [*inputs, *outputs]:
            scheme = ds[0].split(":", 1)[0]
            kind = _DEMO_TYPES.get(scheme, "VIEW" if ".MARTS." in ds[1] else "TABLE")
            facets[ds] = {
                "datasetType": cl.fc.dataset_type_dataset.DatasetTypeDatasetFacet(datasetType=kind)
            }
        for state in states:
            event = cl.event(
                event_type=state,
                job=job,
                inputs=inputs,
                outputs=outputs,
                event_time=datetime.now(UTC).isoformat(),
                run_id=run_id,
                producer=DEFAULT_PRODUCER,
                dataset_facets=facets,
                run_facets={"parent": parent} if parent else None,
            )
            yield cl.emit(event)
