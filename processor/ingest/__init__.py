"""The HTTP ingest gateway (docs/design.md section 8a): OpenLineage's HTTP transport in,
the input topic out.

The gateway folds nothing: it runs steps 1-3 of section 3 so that a producer learns
at once that an event is malformed, publishes what passes with the key the Kafka
transport would give it, and answers 2xx only once the broker has acknowledged the
record. Modules: ``wire`` (HTTP/1.1 connections on httptools' parser),
``dispatch`` (routing, privileges, counting each answer), ``answers``, ``body``
(reading a request body under a bound, gzip included), ``check`` (steps 1-3),
``routes`` (the handlers), ``publisher`` and ``coalesce`` (the acknowledged
producer), ``metrics``, ``server`` (one process), ``processes`` (several) and
``main`` (the command).
"""
