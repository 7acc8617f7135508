"""The options of the lineage walks on the command line (datasets and columns)."""

from __future__ import annotations

import argparse

from processor.core.api_bounds import DEFAULT_DEPTH, DEFAULT_MAX_NODES, DEPTH_CAP


def add_walk_options(p: argparse.ArgumentParser, shown: str, formats: str) -> None:
    """``--depth``, ``--limit`` (the most ``shown`` listed) and ``--format``
    (``formats`` is its help)."""
    p.add_argument(
        "--depth",
        type=int,
        default=DEFAULT_DEPTH,
        help=f"levels to follow (1-{DEPTH_CAP}, default {DEFAULT_DEPTH})",
    )
    p.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_MAX_NODES,
        help=f"most {shown} shown (default {DEFAULT_MAX_NODES})",
    )
    p.add_argument("--format", choices=["table", "json", "dot"], default="table", help=formats)
