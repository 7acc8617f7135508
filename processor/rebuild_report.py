"""What a rebuild reports: its progress while it reads, and its result."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson


@dataclass
class Progress:
    """Where the rebuild stands, per ``"topic/partition"``."""

    started: float = field(default_factory=time.monotonic)
    positions: dict[str, int] = field(default_factory=dict)  # next offset to read
    beginnings: dict[str, int] = field(default_factory=dict)
    ends: dict[str, int] = field(default_factory=dict)  # fetch high-watermarks
    messages: int = 0
    accepted: int = 0
    rejected: int = 0

    def remaining(self) -> int:
        return sum(max(0, self.ends.get(p, 0) - pos) for p, pos in self.positions.items())

    def rate(self) -> float:
        return self.messages / max(1e-6, time.monotonic() - self.started)

    def line(self, generation: str, phase: str) -> str:
        total = sum(max(0, self.ends.get(p, 0) - b) for p, b in self.beginnings.items())
        done = total - self.remaining()
        rate = self.rate()
        eta = self.remaining() / rate if rate > 0 else float("inf")
        eta_text = f"{eta:,.0f} s" if eta != float("inf") else "?"
        return (
            f"rebuild g{generation} {phase}: {done:,}/{total:,} messages "
            f"({100 * done / total if total else 100:.0f}%), {rate:,.0f}/s, ETA {eta_text}; "
            + " ".join(
                f"{p}@{pos}/{self.ends.get(p, '?')}" for p, pos in sorted(self.positions.items())
            )
        )

    def as_json(self, generation: str, phase: str) -> bytes:
        return orjson.dumps(
            {
                "generation": generation,
                "phase": phase,
                "messages": self.messages,
                "remaining": self.remaining(),
                "rate": round(self.rate(), 1),
                "positions": self.positions,
                "ends": self.ends,
                "updated": time.time(),
            }
        )


@dataclass(frozen=True)
class RebuildResult:
    """What a rebuild did: ``switched`` (else it verified or stopped)."""

    generation: str
    previous: str
    switched: bool
    messages: int
    seconds: float
    rebuilt_hash: str | None = None
    current_hash: str | None = None
    differences: tuple[str, ...] = ()
    # The column snapshots' hashes (docs/design.md section 5a), compared too.
    rebuilt_column_hash: str | None = None
    current_column_hash: str | None = None
    truncated: Mapping[str, int] = field(default_factory=dict)  # messages gone per partition

    @property
    def identical(self) -> bool:
        """Both the snapshot and the column snapshot hashes agree."""
        return (
            self.rebuilt_hash == self.current_hash
            and self.rebuilt_column_hash == self.current_column_hash
        )


def covers(
    read_to: Mapping[str, int], folded: Mapping[str, int], log_ends: Mapping[str, int]
) -> bool:
    """Whether the records read (``read_to``: next offset per ``topic/partition``)
    cover what the live graph has folded (highest offset per partition) and the
    log's ends known at the start: only then can a switch succeed."""
    return all(read_to.get(p, 0) > offset for p, offset in folded.items()) and all(
        read_to.get(p, 0) >= end for p, end in log_ends.items()
    )
