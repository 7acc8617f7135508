"""``lineage-processor rebuild [--verify] [--settings FILE]`` (``processor.rebuild``).

``processor.cli`` reads the settings; ``--settings`` names a file of
``LINEAGE_*=value`` lines that override them for this rebuild only (another
mix rule or internal namespaces: the new generation is then the graph under
those settings).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from processor.core.graph_loss import describe_truncation
from processor.errors import ConfigurationError
from processor.settings import Settings


def settings_file(path: str) -> dict[str, str]:
    """``LINEAGE_NAME=value`` lines (``#`` comments, optional quotes) as
    settings field overrides; a ``ConfigurationError`` for anything else."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"--settings {path}: {exc.strerror}") from None
    overrides: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip().removeprefix("export ").strip()
        if not sep or not name.startswith("LINEAGE_"):
            raise ConfigurationError(f"--settings {path}:{number}: expected LINEAGE_NAME=value")
        field = name.removeprefix("LINEAGE_").lower()
        if field not in Settings.model_fields:
            raise ConfigurationError(f"--settings {path}:{number}: unknown setting {name}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        overrides[field] = value
    return overrides


def rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from processor.cli.settings_loader import load_settings
    from processor.rebuild import Rebuild

    if args.settings:
        env = {f"LINEAGE_{k.upper()}": v for k, v in settings_file(args.settings).items()}
        with _environment(env):
            settings = load_settings()
    # The batch code logs every dead letter it makes; a rebuild makes none.
    logging.getLogger("processor.batch").setLevel(logging.WARNING)
    job = Rebuild(
        settings,
        verify=args.verify,
        verify_timeout=args.timeout,
        out=sys.stdout,
        allow_truncated=args.allow_truncated_log or settings.allow_truncated_log,
    )

    async def main() -> Any:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        return await job.run()

    try:
        result = asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        if job.switched:
            print(
                "rebuild interrupted after the switch: the rebuilt generation is current; "
                "the next rebuild drops the old one",
                file=sys.stderr,
            )
        else:
            print("rebuild interrupted: the current generation is untouched", file=sys.stderr)
        return 130
    if not args.verify:
        return 0
    print(f"current generation {result.previous}: {result.current_hash}")
    print(f"rebuilt from the log:  {result.rebuilt_hash}")
    print(f"columns, current:      {result.current_column_hash}")
    print(f"columns, rebuilt:      {result.rebuilt_column_hash}")
    if result.truncated:
        print(f"truncated log: {describe_truncation(result.truncated)}")
    if result.identical:
        print("identical")
        return 0
    print("they differ; first differences:")
    for line in result.differences:
        print(f"  {line}")
    if result.rebuilt_column_hash != result.current_column_hash:
        print("  the column snapshots differ (snapshot --columns shows them)")
    return 1


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Any:
    import os

    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
