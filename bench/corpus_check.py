"""Extra check against real-shaped OpenLineage events (runs only when ``../shared`` exists).

Usage::

    python bench/corpus_check.py [PATH/openlineage-fixtures.jsonl] [--mix-rule mixed|any]
                                 [--internal GLOB,...]

The file holds one JSON object a line: ``{"source", "spec_valid", "event"}``. The check
prints counts by source and by eventType, then runs every event through the processor's
classification (``processor.core.pipeline.classify``, with step 4, deduplication,
simulated by content hash) and prints the outcomes. It fails (exit 1) when an event the
spec schema accepts (``spec_valid``) is rejected as invalid (``too_large``,
``invalid_json``, ``invalid_event``): the lineage profile is meant to be looser than the
spec. Without the file it says so and exits 0: a clone of the project has no ``../shared``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT.parent / "shared" / "corpus" / "openlineage-fixtures.jsonl"
INVALID_REASONS = ("too_large", "invalid_json", "invalid_event")
sys.path.insert(0, str(ROOT))


def load(path: Path) -> list[dict[str, Any]]:
    """The corpus records, in file order."""
    records = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                record = json.loads(line)
                if not isinstance(record, dict) or "event" not in record:
                    raise ValueError(f"{path}:{number}: not a {{source, spec_valid, event}} object")
                records.append(record)
    return records


def event_kind(event: Any) -> str:
    """eventType, or DatasetEvent/JobEvent for static lineage (no run, no eventType)."""
    if not isinstance(event, dict):
        return f"<{type(event).__name__}>"
    if "eventType" in event:
        return str(event["eventType"])
    if "run" not in event:
        return "DatasetEvent" if "dataset" in event and "job" not in event else "JobEvent"
    return "<no eventType>"


@dataclass
class Classification:
    """Outcome of each event (labels like ``accepted``, ``ignored:START``,
    ``rejected:mix_rule_external_only``, ``duplicate``) and the details worth showing."""

    outcomes: list[str] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    edges: int = 0


def classify_all(
    events: Iterable[Any],
    *,
    mix_rule: str = "mixed",
    internal: Sequence[str] = ("snowflake://*",),
) -> Classification:
    """Classify every event as the worker would, deduplicating by content hash.

    Each event is serialised to compact UTF-8 JSON (the corpus stores parsed objects)
    and handed to ``processor.core.pipeline.classify``. Imported lazily so that the
    counts above still print while the processor is incomplete.
    """
    from processor.core.pipeline import Accepted, Classified, Limits, Rejected, classify
    from processor.core.rules import MixRule

    rule = MixRule(mix_rule, list(internal))
    limits = Limits()
    seen: set[str] = set()
    result = Classification()
    for event in events:
        raw = json.dumps(event, ensure_ascii=False).encode("utf-8")
        verdict = classify(raw, rule, limits)
        error: str | None = None
        if isinstance(verdict, Rejected):
            label, error = f"rejected:{verdict.reason}", verdict.error
        elif isinstance(verdict, Classified) and verdict.content_hash in seen:
            label = "duplicate"
        else:
            seen.add(verdict.content_hash)
            outcome = verdict.outcome
            if isinstance(outcome, Accepted):
                label = "accepted"
                result.edges += len(outcome.fold.edges)
            elif isinstance(outcome, Rejected):
                label, error = f"rejected:{outcome.reason}", outcome.error
            else:
                label = f"ignored:{outcome.event_type}"
        result.outcomes.append(str(label))
        result.errors.append(error)
    return result


def _print_counts(title: str, counts: Counter[str]) -> None:
    print(f"\n{title}")
    width = max((len(k) for k in counts), default=0)
    for key, count in counts.most_common():
        print(f"  {key:<{width}}  {count:>5}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--mix-rule", default="mixed", choices=("mixed", "any"))
    parser.add_argument("--internal", default="snowflake://*", help="comma-separated globs")
    args = parser.parse_args(argv)
    if not args.path.exists():
        print(f"corpus check skipped: {args.path} does not exist (no ../shared here)")
        return 0

    records = load(args.path)
    print(f"{len(records)} events from {args.path}")
    _print_counts("by source", Counter(str(r.get("source")) for r in records))
    _print_counts("by eventType", Counter(event_kind(r["event"]) for r in records))
    _print_counts("spec_valid", Counter(str(r.get("spec_valid")) for r in records))

    try:
        result = classify_all(
            (r["event"] for r in records), mix_rule=args.mix_rule, internal=args.internal.split(",")
        )
    except ImportError as exc:
        print(f"\nclassification: not available ({exc})")
        return 0
    rule = f"{args.mix_rule};internal={args.internal}"
    _print_counts(f"outcomes (rule {rule})", Counter(result.outcomes))
    print(f"  edges from accepted events: {result.edges}")
    per_source: dict[str, Counter[str]] = {}
    for record, outcome in zip(records, result.outcomes, strict=True):
        per_source.setdefault(str(record.get("source")), Counter())[outcome] += 1
    print("\noutcomes by source")
    for source, counts in sorted(per_source.items()):
        print(f"  {source}: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))

    failures = [
        (r, o, e)
        for r, o, e in zip(records, result.outcomes, result.errors, strict=True)
        if r.get("spec_valid") and o.split(":", 1)[-1] in INVALID_REASONS
    ]
    for record, outcome, error in failures:
        print(f"FAIL spec-valid event rejected: {record.get('source')}: {outcome}: {error}")
    print(
        f"\ncorpus check: {'FAILED' if failures else 'ok'} "
        f"({len(failures)} spec-valid events rejected as invalid)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
