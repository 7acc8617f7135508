"""lineage-processor: a Kafka-native processor that folds OpenLineage events into a
lineage graph held in Redis."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lineage-processor")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
