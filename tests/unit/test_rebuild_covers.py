"""When the rebuild may drain its pipeline and try to switch (processor/rebuild_report.py
``covers``): only once what it read covers the live graph's folded offsets
(highest offset folded, so the next to read is one past it) and the log's ends
known at its start (next offsets)."""

from __future__ import annotations

from processor.rebuild_report import covers

FOLDED = {"in/0": 9, "in/1": 4}  # offsets 0-9 and 0-4 folded live


def test_not_before_the_live_graph_s_last_folded_record_is_read() -> None:
    assert not covers({"in/0": 9, "in/1": 5}, FOLDED, {})  # offset 9 of in/0 not read yet
    assert not covers({"in/0": 10}, FOLDED, {})  # nothing of in/1 read


def test_once_one_past_each_folded_offset_is_read() -> None:
    assert covers({"in/0": 10, "in/1": 5}, FOLDED, {})
    assert covers({"in/0": 12, "in/1": 5, "ctl/0": 3}, FOLDED, {})


def test_the_log_s_ends_count_too_when_known() -> None:
    ends = {"in/0": 10, "in/1": 8}
    assert not covers({"in/0": 10, "in/1": 5}, FOLDED, ends)
    assert covers({"in/0": 10, "in/1": 8}, FOLDED, ends)


def test_an_empty_live_graph_and_no_known_ends_are_covered_at_once() -> None:
    assert covers({}, {}, {})
