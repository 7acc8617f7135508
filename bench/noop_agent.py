"""A faust-streaming agent that does nothing: the ceiling the pipeline is measured against.

Run by ``bench/bench.py`` as a subprocess::

    python bench/noop_agent.py --bootstrap 127.0.0.1:9092 --topic T --events N --app-id ID \
        --out result.json

It consumes ``T`` from the earliest offset with a fresh consumer group, iterates the
stream without doing anything, and when it has seen ``N`` messages writes one JSON line
``{"events", "first", "last", "rate", "join_s", "cpu_util"}`` (times from ``time.time()``)
to ``--out`` (default: stdout, which faust's worker would otherwise redirect to its log)
and exits.
The faust settings mirror the processor's (raw serialisers, memory store, no leader
topic, 1 s session timeout and 0.1 s heartbeat because Tansu's group join takes about the
session timeout).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--out", default="-", help="where to write the JSON result")
    args = parser.parse_args(argv)
    started = time.time()

    import faust

    app = faust.App(
        args.app_id,
        broker=f"kafka://{args.bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=1.0,
        broker_heartbeat_interval=0.1,
        stream_buffer_maxsize=4096,
        topic_disable_leader=True,
    )
    topic = app.topic(
        args.topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    target = args.events

    async def noop(stream: Any) -> None:
        seen = 0
        first = cpu_first = 0.0
        async for _ in stream:
            seen += 1
            if seen == 1:
                first, cpu_first = time.time(), time.process_time()
            if seen >= target:
                last = time.time()
                result = {
                    "events": seen,
                    "first": first,
                    "last": last,
                    "rate": (seen - 1) / (last - first) if last > first else None,
                    "join_s": first - started,
                    # CPU seconds per second while consuming: 1.0 is one core busy
                    "cpu_util": (time.process_time() - cpu_first) / (last - first)
                    if last > first
                    else None,
                }
                line = json.dumps(result) + "\n"
                if args.out == "-":
                    os.write(1, line.encode())  # fd 1: faust redirects sys.stdout
                else:
                    with open(args.out, "w") as out:  # noqa: ASYNC230 - exiting anyway
                        out.write(line)
                os._exit(0)  # the measurement is done; skip faust's graceful shutdown

    app.agent(topic, name="noop")(noop)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
