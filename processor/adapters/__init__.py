"""I/O adapters: Kafka, Redis, metrics, HTTP and the embedded services."""
