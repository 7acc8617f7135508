"""Where the property tests change a real event: a random place inside it."""

from __future__ import annotations

import random
from typing import Any


def random_place(doc: Any, rng: random.Random, descend: float) -> tuple[Any, Any] | None:
    """A random (container, key) inside ``doc``: from the top, each step goes one
    level further down with probability ``descend``; None when none was taken."""
    node, place = doc, None
    while isinstance(node, dict | list) and node and rng.random() < descend:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        place = (node, key)
        node = node[key]
    return place


def drop_or_replace(place: tuple[Any, Any], drop: bool, value: Any) -> None:
    """Delete what is at ``place``, or put ``value`` there."""
    parent, key = place
    if drop:
        del parent[key]
    else:
        parent[key] = value
