"""Real services for ``lineage-processor dev``, the tests and the benchmarks.

A Kafka-protocol broker and Redis, started from the binaries of the ``embedded``
extra or as testcontainers (:mod:`processor.devstack.services`). Nothing the
worker runs in production imports this package.
"""
