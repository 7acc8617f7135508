"""The demo's ML pipelines: Snowflake ML, a SageMaker pipeline run by Airflow,
MLflow training and promotion, and a Fabric notebook and experiment.

Each step is a job whose inputs and outputs carry a ``datasetType`` facet
(FEATURE_VIEW, DATASET, MODEL, MODEL_VERSION, EXPERIMENT, SERVICE, REPORT...),
the way these tools' integrations report ML artifacts as OpenLineage datasets.

Under the ``mixed`` rule an edge is kept only when it crosses the internal
boundary, so every step here reads from one side and writes to the other: the
warehouse and the ML platforms' registries (:data:`DEMO_INTERNAL_NAMESPACES`,
which ``dev --demo`` adds to the internal namespaces unless they are set) are
internal; storage (S3, OneLake), source databases, topics and serving
endpoints are external.
"""

from __future__ import annotations

__all__ = ["DEMO_INTERNAL_NAMESPACES", "ML_ESTATE", "TypedDataset"]

DEMO_INTERNAL_NAMESPACES = ("sagemaker://*", "mlflow://*", "fabric://*")

TypedDataset = tuple[str, str, str]  # namespace, name, datasetType

_SF = "snowflake://acme.eu-west-1"
_ML_S3 = "s3://acme-ml"
_SM = "sagemaker://acme-ml.eu-west-1"
_MLFLOW = "mlflow://mlflow.acme.internal"
_FABRIC = "fabric://acme-analytics"
_ONELAKE = "abfss://acme-analytics@onelake.dfs.fabric.microsoft.com"

# Snowflake ML: source tables -> feature view -> training datasets -> registered
# models -> a model service -> its scores; the churn model's evaluation.
_CRM_CUSTOMERS = ("postgres://crm-db.prod:5432", "crm.public.customers", "TABLE")
_PAYMENTS = ("kafka://kafka-prod-1.acme.internal:9092", "prod.payments.transactions.v1", "TOPIC")
_FEATURES = (_SF, "ML.FEATURE_STORE.CUSTOMER_ACTIVITY$V1", "FEATURE_VIEW")
_CHURN_TRAINING = (_ML_S3, "snowflake-ml/datasets/churn_training/v3/", "DATASET")
_CHURN_MODEL = (_SF, "ML.REGISTRY.CHURN_CLASSIFIER", "MODEL")
_CHURN_SERVICE = ("https://churn-scoring.acme.internal", "/predict", "SERVICE")
_CHURN_SCORES = (_SF, "ANALYTICS.ML.CHURN_SCORES", "TABLE")
_CHURN_EVALUATION = (_ML_S3, "snowflake-ml/evaluations/churn_classifier/", "REPORT")
_LTV_TRAINING = (_ML_S3, "snowflake-ml/datasets/ltv_training/v1/", "DATASET")
_LTV_MODEL = (_SF, "ML.REGISTRY.LTV_REGRESSOR", "MODEL")

# SageMaker, from Airflow's Amazon provider operators: process -> train ->
# evaluate -> register -> batch transform, then the forecast loaded back.
_ORDER_ITEMS = (_SF, "RAW.ORDERS.ORDER_ITEMS", "TABLE")
_PROCESSED = (_ML_S3, "sagemaker/demand/processed/", "DATASET")
_DEMAND_MODEL = (_SM, "training-job/demand-forecast", "MODEL")
_EVALUATION = (_ML_S3, "sagemaker/demand/evaluation/", "REPORT")
_DEMAND_VERSION = (_SM, "model-package/demand-forecast/3", "MODEL_VERSION")
_PREDICTIONS = (_ML_S3, "sagemaker/demand/predictions/", "DATASET")
_FORECAST = (_SF, "ANALYTICS.ML.DEMAND_FORECAST", "TABLE")

# MLflow: a training run logs its input (log_input) into an experiment and its
# model (log_model); promotion registers a version, which a service serves.
_CLICKSTREAM = ("s3://acme-datalake", "raw/clickstream/", "FILE")
_RECSYS_EXPERIMENT = (_MLFLOW, "experiments/recommender", "EXPERIMENT")
_RECSYS_MODEL = ("s3://acme-mlflow", "artifacts/recommender/model/", "MODEL")
_RECSYS_VERSION = (_MLFLOW, "models/recommender/5", "MODEL_VERSION")
_RECSYS_SERVICE = ("https://recommendations.acme.internal", "/invocations", "SERVICE")

# Fabric: a Snowflake mart mirrored into a lakehouse, a notebook's experiment,
# the model it saves, and the report of its predictions.
_REVENUE = (_SF, "ANALYTICS.MARTS.FCT_REVENUE", "VIEW")
_LAKEHOUSE = (_ONELAKE, "sales.Lakehouse/Tables/fct_revenue", "TABLE")
_SALES_EXPERIMENT = (_FABRIC, "experiments/sales-forecast", "EXPERIMENT")
_SALES_MODEL = (_ONELAKE, "sales.Lakehouse/Files/models/sales-forecast/", "MODEL")
_SALES_REPORT = (_FABRIC, "reports/Sales forecast", "REPORT")

_SNOWFLAKE_ML = "snowflake://acme.eu-west-1"
_AIRFLOW = "airflow://prod"

# (job namespace, job name), parent DAG or None, inputs, outputs
ML_ESTATE: list[tuple[tuple[str, str], str | None, list[TypedDataset], list[TypedDataset]]] = [
    ((_SNOWFLAKE_ML, "ML.FEATURE_STORE.CUSTOMER_ACTIVITY.refresh"), None,
     [_CRM_CUSTOMERS, _PAYMENTS], [_FEATURES]),
    ((_SNOWFLAKE_ML, "ML.CHURN.generate_training_set"), None, [_FEATURES], [_CHURN_TRAINING]),
    ((_SNOWFLAKE_ML, "ML.CHURN.train_and_register"), None, [_CHURN_TRAINING], [_CHURN_MODEL]),
    ((_SNOWFLAKE_ML, "ML.CHURN.create_service"), None, [_CHURN_MODEL], [_CHURN_SERVICE]),
    ((_SNOWFLAKE_ML, "ML.CHURN.score_customers"), None, [_CHURN_SERVICE], [_CHURN_SCORES]),
    ((_SNOWFLAKE_ML, "ML.CHURN.evaluate"), None, [_CHURN_MODEL], [_CHURN_EVALUATION]),
    ((_SNOWFLAKE_ML, "ML.LTV.generate_training_set"), None, [_FEATURES], [_LTV_TRAINING]),
    ((_SNOWFLAKE_ML, "ML.LTV.train_and_register"), None, [_LTV_TRAINING], [_LTV_MODEL]),
    ((_AIRFLOW, "demand_forecast.process"), "demand_forecast", [_ORDER_ITEMS], [_PROCESSED]),
    ((_AIRFLOW, "demand_forecast.train"), "demand_forecast", [_PROCESSED], [_DEMAND_MODEL]),
    ((_AIRFLOW, "demand_forecast.evaluate"), "demand_forecast", [_DEMAND_MODEL], [_EVALUATION]),
    ((_AIRFLOW, "demand_forecast.register"), "demand_forecast", [_EVALUATION], [_DEMAND_VERSION]),
    ((_AIRFLOW, "demand_forecast.batch_transform"), "demand_forecast",
     [_DEMAND_VERSION], [_PREDICTIONS]),
    ((_AIRFLOW, "demand_forecast.load_forecast"), "demand_forecast", [_PREDICTIONS], [_FORECAST]),
    ((_MLFLOW, "recommender.train"), None, [_CLICKSTREAM], [_RECSYS_EXPERIMENT]),
    ((_MLFLOW, "recommender.log_model"), None, [_RECSYS_EXPERIMENT], [_RECSYS_MODEL]),
    ((_MLFLOW, "recommender.promote"), None, [_RECSYS_MODEL], [_RECSYS_VERSION]),
    ((_MLFLOW, "recommender.deploy"), None, [_RECSYS_VERSION], [_RECSYS_SERVICE]),
    ((_FABRIC, "mirror.snowflake_revenue"), None, [_REVENUE], [_LAKEHOUSE]),
    ((_FABRIC, "notebooks/train_sales_forecast"), None, [_LAKEHOUSE], [_SALES_EXPERIMENT]),
    ((_FABRIC, "notebooks/save_sales_model"), None, [_SALES_EXPERIMENT], [_SALES_MODEL]),
    ((_FABRIC, "notebooks/predict_sales"), None, [_SALES_MODEL], [_SALES_REPORT]),
]  # fmt: skip
