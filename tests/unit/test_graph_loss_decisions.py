"""The decisions about a lost graph and a truncated log (``core.graph_loss``):
expected values worked out by hand from the offsets given."""

from __future__ import annotations

from processor.core.graph_loss import (
    GraphState,
    behind,
    describe_truncation,
    find_loss,
    origin_offsets,
    truncated,
)

MARKER = {"generation": "1", "t/0": "0", "t/1": "0"}


def test_a_graph_that_folded_every_durable_record_is_whole() -> None:
    # next offset 10 durable: offset 9 must be folded; 9 is.
    state = GraphState(origin=MARKER, lost=None, folded={"t/0": 9, "t/1": 40})
    assert find_loss(state, {"t/0": 10, "t/1": 41}, saw_origin=True) is None
    # the graph may be ahead of what is durable (folded, not yet committed)
    assert find_loss(state, {"t/0": 3}, saw_origin=True) is None


def test_one_record_missing_on_one_partition_is_a_loss_naming_it() -> None:
    state = GraphState(origin=MARKER, lost=None, folded={"t/0": 8, "t/1": 40})
    reason = find_loss(state, {"t/0": 10, "t/1": 41}, saw_origin=True)
    assert reason is not None
    assert "t/0 folded up to 8 but durable up to 9" in reason
    assert "t/1" not in reason


def test_the_slack_of_a_committed_offset_is_one_offset_past_the_last_record() -> None:
    # folded 8: next 10 is within a slack of 1 (offset 9 a transaction
    # marker), next 11 is not
    state = GraphState(origin=MARKER, lost=None, folded={"t/0": 8})
    assert find_loss(state, {"t/0": 10}, saw_origin=True, slack=1) is None
    assert find_loss(state, {"t/0": 11}, saw_origin=True, slack=1) is not None


def test_a_partition_never_folded_but_committed_is_a_loss() -> None:
    state = GraphState(origin=None, lost=None, folded={})
    assert behind(state.folded, {"t/0": 5, "t/1": 0}) == {"t/0": (-1, 5)}
    assert find_loss(state, {"t/0": 5}, saw_origin=False) is not None


def test_nothing_committed_and_no_marker_is_a_fresh_graph() -> None:
    state = GraphState(origin=None, lost=None, folded={})
    assert find_loss(state, {}, saw_origin=False) is None
    assert find_loss(state, {"t/0": 0}, saw_origin=False) is None


def test_a_marker_gone_after_it_was_seen_is_a_loss_even_when_new_folds_cover_the_offsets() -> None:
    # After a FLUSHALL the next batch folds offset 120 into an empty graph: the
    # offsets alone look whole, the missing marker does not.
    state = GraphState(origin=None, lost=None, folded={"t/0": 120})
    reason = find_loss(state, {"t/0": 100}, saw_origin=True)
    assert reason is not None
    assert "marker is gone" in reason
    # before any marker was seen (start-up of a graph from before the marker):
    # offsets covered, so it is kept
    assert find_loss(state, {"t/0": 100}, saw_origin=False) is None


def test_the_lost_flag_of_another_worker_is_a_loss_here_too() -> None:
    state = GraphState(origin=None, lost="marker gone", folded={"t/0": 120})
    reason = find_loss(state, {}, saw_origin=False)
    assert reason == "another worker found the graph lost: marker gone"


def test_a_long_list_of_partitions_behind_is_cut_short() -> None:
    durable = {f"t/{p}": 10 for p in range(8)}
    reason = find_loss(GraphState(origin=MARKER, lost=None), durable, saw_origin=True)
    assert reason is not None
    assert reason.count("folded up to -1") == 5
    assert reason.endswith("and 3 more")


def test_origin_offsets_leaves_out_the_generation_and_junk() -> None:
    assert origin_offsets({"generation": "3", "t/0": "120", "t/1": "x"}) == {"t/0": 120}
    assert origin_offsets(None) == {}


def test_truncated_counts_the_offsets_below_the_log_start_per_partition() -> None:
    starts = {"t/0": 120, "t/1": 0, "t/2": 50, "c/0": 7}
    origin = {"t/0": 0, "t/1": 0, "t/2": 50}
    # t/0: 120 - 0; t/2 began at 50 and the log starts there: nothing gone;
    # c/0 is not in the origin: counted from 0
    assert truncated(starts, origin) == {"t/0": 120, "c/0": 7}
    assert truncated({"t/0": 0}, {}) == {}


def test_describe_truncation_totals_and_names_the_partitions() -> None:
    text = describe_truncation({"t/0": 120, "c/0": 7})
    assert "127 messages are gone" in text
    assert "c/0: 7, t/0: 120" in text
