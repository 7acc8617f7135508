"""``realistic_mix``: a deterministic, production-shaped topic of sample messages.

Each pipeline is built and serialised once with the client, as a template whose run
ids and event time are slots; every message then fills the slots with its own
values, which keeps a mix of hundreds of thousands of events fast to make.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from processor.samples.client import Dataset, get_client

__all__ = ["mix_composition", "realistic_mix"]

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
        self.cl = get_client()
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
