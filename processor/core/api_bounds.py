"""The bounds of the query API: one set for the lineage queries, the HTTP views,
their OpenAPI document and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEPTH_CAP = 20  # hops from the root
DEFAULT_DEPTH = 20
DEFAULT_MAX_NODES = 1000  # nodes of a lineage answer
MAX_NODES_LIMIT = 10_000  # the most a caller may ask for
DEFAULT_MAX_PATHS = 10  # shortest paths of a path answer
DEFAULT_PAGE = 50  # datasets of a search page
MAX_PAGE = 1000
# Characters of a text parameter: far above any real namespace or name, far
# below what would make a lookup costly. The search text is matched against
# every dataset name, so it gets a tighter bound.
MAX_TEXT = 4096
MAX_SEARCH_TEXT = 1000


@dataclass(frozen=True)
class Bound:
    """An integer query parameter's default and range, checked by the HTTP
    views and stated in the OpenAPI document."""

    default: int
    low: int
    high: int

    def schema(self) -> dict[str, Any]:
        """The parameter's JSON schema."""
        return {
            "type": "integer",
            "minimum": self.low,
            "maximum": self.high,
            "default": self.default,
        }


DEPTH = Bound(DEFAULT_DEPTH, 1, DEPTH_CAP)
NODES = Bound(DEFAULT_MAX_NODES, 1, MAX_NODES_LIMIT)
PAGE = Bound(DEFAULT_PAGE, 1, MAX_PAGE)
