"""``lineage-processor publish`` and ``topics create``: events and topics onto the broker."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson

from processor.cli.settings_loader import load_settings


def _read_events(paths: Sequence[str]) -> Iterator[bytes]:
    """Each event of JSON files (an object or an array) and JSONL files, as bytes."""
    for path in paths:
        text = Path(path).read_bytes()
        stripped = text.lstrip()
        if stripped.startswith(b"[") or (stripped.startswith(b"{") and b"\n{" not in stripped):
            try:
                doc = orjson.loads(text)
            except orjson.JSONDecodeError:
                doc = None
            if isinstance(doc, list):
                yield from (orjson.dumps(item) for item in doc)
                continue
            if isinstance(doc, dict):
                yield text.strip()
                continue
        for line in text.splitlines():
            if line.strip():
                yield line


def cmd_publish(args: argparse.Namespace) -> int:
    from processor.adapters.connections import kafka_options
    from processor.adapters.dlq_publisher import KafkaPublisher, OutRecord
    from processor.core.message_keys import message_key

    settings = load_settings()
    topic = args.topic or settings.input_topics[0]

    async def run() -> int:
        publisher = KafkaPublisher(settings.kafka_bootstrap, **kafka_options(settings))
        sent = 0
        batch: list[OutRecord] = []
        try:
            for value in _read_events(args.files):
                try:
                    obj = orjson.loads(value)
                    key = message_key(obj) if isinstance(obj, dict) else None
                except orjson.JSONDecodeError:
                    key = None
                batch.append(OutRecord(topic, key, value))
                if len(batch) >= 500:
                    await publisher.publish(batch)
                    sent += len(batch)
                    batch.clear()
                    print(f"\rpublished {sent}", end="", file=sys.stderr, flush=True)
            await publisher.publish(batch)
            sent += len(batch)
        finally:
            await publisher.close()
        print(f"published {sent} events to {topic}")
        return 0

    return asyncio.run(run())


def cmd_topics_create(args: argparse.Namespace) -> int:
    from processor.adapters.connections import kafka_options
    from processor.adapters.kafka_admin import create_topics

    settings = load_settings()
    topics = [*settings.input_topics, settings.dlq_topic, settings.control_topic]
    created = asyncio.run(
        create_topics(
            settings.kafka_bootstrap,
            topics,
            args.partitions,
            args.replication,
            security=kafka_options(settings),
        )
    )
    for t in topics:
        print(f"{t}: {'created' if t in created else 'exists'}")
    return 0
