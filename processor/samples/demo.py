"""``demo_events``: an endless stream of runs of a small, slowly drifting estate."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime

from processor.samples.client import DEFAULT_PRODUCER, Dataset, get_client
from processor.samples.ml_demo import ML_ESTATE

__all__ = ["demo_events"]

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


def _scheme_type(ds: Dataset) -> str:
    scheme = ds[0].split(":", 1)[0]
    return _DEMO_TYPES.get(scheme, "VIEW" if ".MARTS." in ds[1] else "TABLE")


def _ml_estate() -> list[tuple[Dataset, list[Dataset], list[Dataset], str | None]]:
    return [
        (job, [(ns, nm) for ns, nm, _ in ins], [(ns, nm) for ns, nm, _ in outs], dag)
        for job, dag, ins, outs in ML_ESTATE
    ]


_ML_TYPES: dict[Dataset, str] = {
    (ns, nm): kind for _, _, ins, outs in ML_ESTATE for ns, nm, kind in [*ins, *outs]
}


def demo_events(seed: int = 0) -> Iterator[tuple[bytes, bytes]]:
    """An endless stream of plausible pipeline runs, (key, value), timestamped now.

    A small estate: Airflow, Spark and Flink jobs load postgres/s3/kafka data into
    Snowflake, dbt models transform it inside Snowflake (same-side, so rejected by the
    ``mixed`` rule), and a reverse-ETL task exports a mart back out. Each run yields START,
    sometimes RUNNING, then COMPLETE (about 5% FAIL). Slowly, the estate drifts: now and
    then a job gains or loses an input table, or a new dated export dataset appears.
    Beside it, the ML pipelines of ``ml_demo`` (Snowflake ML, SageMaker, MLflow,
    Fabric) with their datasets' types. Every job runs once first, in order, so
    the whole estate is drawn within the first minute at the default pace; then
    jobs run at random. The caller paces the stream (e.g. one message per second).
    """
    cl = get_client()
    rng = random.Random(seed)
    classic = _demo_estate()
    pipelines = [*classic, *_ml_estate()]
    runs = 0
    while True:
        pick = runs if runs < len(pipelines) else rng.randrange(len(pipelines))
        job, inputs, outputs, dag = pipelines[pick]
        runs += 1
        if runs % 40 == 0 and pick < len(classic):  # drift: a job picks up or drops an extra source
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
            kind = _ML_TYPES.get(ds) or _scheme_type(ds)
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
