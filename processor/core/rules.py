"""The internal/external mix rule (docs/design.md section 4)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import NamedTuple

from processor.core.reasons import Reason, SkipReason
from processor.errors import ConfigurationError, InvalidMessage

DatasetKey = tuple[str, str]  # (namespace, name)


class MixMode(StrEnum):
    """``mixed``: keep only edges crossing internal/external; ``any``: keep all."""

    MIXED = "mixed"
    ANY = "any"


class EdgePlan(NamedTuple):
    """The edges an event contributes, and how many candidates were skipped and why."""

    # A NamedTuple, not a frozen dataclass: one is made per accepted event, and
    # a frozen dataclass's __init__ costs a microsecond of object.__setattr__.
    edges: tuple[tuple[DatasetKey, DatasetKey], ...]
    skipped: dict[SkipReason, int]


class MixRule:
    """Classifies namespaces as internal or external and picks the edges to keep.

    Globs are shell-style, matched case-sensitively against the whole namespace,
    with ``*`` also matching ``/`` (``fnmatch.translate`` semantics).
    """

    def __init__(self, mode: MixMode | str, internal_globs: Sequence[str]) -> None:
        try:
            self.mode = MixMode(mode)
        except ValueError:
            raise ConfigurationError(
                f"mix rule {mode!r} is not one of {', '.join(m.value for m in MixMode)}"
            ) from None
        globs = tuple(g.strip() for g in internal_globs if g.strip())
        if not globs:
            raise ConfigurationError("internal namespaces: at least one glob is needed")
        self.internal_globs = globs
        self._regex = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs))
        self._cache: dict[str, bool] = {}

    def describe(self) -> str:
        """The ``lineage.rule`` DLQ header, e.g. ``mixed;internal=snowflake://*``."""
        return f"{self.mode.value};internal={','.join(self.internal_globs)}"

    def is_internal(self, namespace: str) -> bool:
        """Whether a namespace matches one of the internal globs (cached, bounded)."""
        hit = self._cache.get(namespace)
        if hit is None:
            hit = self._regex.match(namespace) is not None
            if len(self._cache) >= 65536:
                self._cache.clear()
            self._cache[namespace] = hit
        return hit

    def plan(self, inputs: Iterable[DatasetKey], outputs: Iterable[DatasetKey]) -> EdgePlan:
        """The edges kept for one COMPLETE event, or ``InvalidMessage`` with the reason.

        Candidates are all (input, output) pairs with input != output, each pair
        once however often a dataset is repeated in the event.
        """
        ins = list(dict.fromkeys(inputs))
        outs = list(dict.fromkeys(outputs))
        if not ins or not outs:
            side = "inputs" if not ins else "outputs"
            raise InvalidMessage(Reason.NO_LINEAGE, f"the event has no {side}")
        kept: list[tuple[DatasetKey, DatasetKey]] = []
        same_side = self_loops = 0
        mixed = self.mode is MixMode.MIXED
        for src in ins:
            src_internal = self.is_internal(src[0])
            for dst in outs:
                if src == dst:
                    self_loops += 1
                elif mixed and src_internal == self.is_internal(dst[0]):
                    same_side += 1
                else:
                    kept.append((src, dst))
        if not kept:
            raise self._no_edge(ins, outs)
        skipped: dict[SkipReason, int] = {}
        if same_side:
            skipped[SkipReason.SAME_SIDE] = same_side
        if self_loops:
            skipped[SkipReason.SELF_LOOP] = self_loops
        return EdgePlan(tuple(kept), skipped)

    def _no_edge(self, ins: list[DatasetKey], outs: list[DatasetKey]) -> InvalidMessage:
        if self.mode is MixMode.ANY:
            return InvalidMessage(Reason.NO_LINEAGE, "only self-loops (input == output)")
        flags = {self.is_internal(ns) for ns, _ in ins + outs}
        # With at least one input and one output and no crossing pair, every
        # dataset is on one side (docs/design.md section 4).
        if flags == {True}:
            return InvalidMessage(
                Reason.MIX_RULE_INTERNAL_ONLY,
                f"every dataset is internal ({self.describe()}); lineage must cross "
                "between internal and external datasets",
            )
        return InvalidMessage(
            Reason.MIX_RULE_EXTERNAL_ONLY,
            f"every dataset is external ({self.describe()}); lineage must cross "
            "between internal and external datasets",
        )
