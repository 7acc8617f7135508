"""Outcome codes: the DLQ reasons of docs/design.md section 3 and the ignore labels."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a message went to the dead-letter topic (``lineage.reason`` header)."""

    TOO_LARGE = "too_large"
    INVALID_JSON = "invalid_json"
    INVALID_EVENT = "invalid_event"
    NAME_TOO_LONG = "name_too_long"
    # More candidate edges (inputs x outputs) than LINEAGE_MAX_EDGES_PER_EVENT.
    TOO_MANY_EDGES = "too_many_edges"
    MIX_RULE_INTERNAL_ONLY = "mix_rule_internal_only"
    MIX_RULE_EXTERNAL_ONLY = "mix_rule_external_only"
    NO_LINEAGE = "no_lineage"
    # A control-topic message that is not a well-formed delete request.
    INVALID_CONTROL = "invalid_control"
    # A message that made the processor's own code fail. It is dead-lettered so
    # that one poison message cannot stop a partition; it always means a bug.
    INTERNAL_ERROR = "internal_error"


class SkipReason(StrEnum):
    """Why a candidate edge of an accepted event was not folded."""

    SAME_SIDE = "same_side"
    SELF_LOOP = "self_loop"


RUN_EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
DATASET_EVENT = "DATASET_EVENT"
JOB_EVENT = "JOB_EVENT"
