"""Every Redis key name the processor uses, built in one place.

The layout is described in docs/redis.md. In short (``P`` = the prefix,
``LINEAGE_REDIS_PREFIX``; ``g`` = a generation): a few keys outside any
generation (``P:generation``, ``P:rebuild:lock``, ...), and the graph of each
generation under the hash tag ``{P:g<g>}``, so that a generation's keys share
a prefix that one ``SCAN MATCH`` finds and drops.

The Lua scripts build the per-node and per-edge keys (``n:``, ``e:``, ...)
themselves from a generation's base, since those ids only appear inside a
call; ``fold.lua`` and ``delete.lua`` also build the base
(``'{' .. P .. ':g' .. g .. '}:'``, as ``Keyspace.base``) from the generation
the pointer names at the moment they run.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Keyspace:
    """The keys under ``prefix``; the per-generation ones are ``generation``'s."""

    prefix: str
    generation: str = "1"
    base: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", f"{{{self.prefix}:g{self.generation}}}:")

    def at(self, generation: str) -> Keyspace:
        """The same prefix, another generation."""
        return Keyspace(self.prefix, generation)

    # --- outside any generation -------------------------------------------

    @property
    def pointer(self) -> str:
        """String: the current generation."""
        return f"{self.prefix}:generation"

    @property
    def counter(self) -> str:
        """Counter that numbers new generations (a rebuild's)."""
        return f"{self.prefix}:generation:next"

    @property
    def rebuild_lock(self) -> str:
        """A running rebuild's lock (``SET NX PX``, renewed while it runs)."""
        return f"{self.prefix}:rebuild:lock"

    @property
    def rebuild_generation(self) -> str:
        """The generation a rebuild builds, or the old one it has yet to drop."""
        return f"{self.prefix}:rebuild:gen"

    @property
    def rebuild_progress(self) -> str:
        """A running rebuild's progress record (JSON)."""
        return f"{self.prefix}:rebuild:progress"

    @property
    def origin(self) -> str:
        """Hash: the graph's marker, written when the graph is begun (a fresh
        worker) or rebuilt (``lua/switch.lua``): ``topic/partition`` -> the
        first offset the graph holds, and ``generation``. Gone: Redis lost the graph."""
        return f"{self.prefix}:graph:origin"

    @property
    def lost(self) -> str:
        """String: why the graph is known lost, until a rebuild's switch deletes it."""
        return f"{self.prefix}:graph:lost"

    @property
    def sweep_lock(self) -> str:
        """The retention sweep's lock: one worker sweeps per interval."""
        return f"{self.prefix}:sweep"

    @property
    def redriven(self) -> str:
        """Set of the DLQ records already redriven (``topic/partition/offset``)."""
        return f"{self.prefix}:dlq:redriven"

    # --- the generation's fixed keys --------------------------------------

    @property
    def pattern(self) -> str:
        """``SCAN MATCH`` pattern of every key of the generation."""
        return self.base + "*"

    @property
    def edge_count(self) -> str:
        """String: how many edges the generation holds (kept by the fold and the sweep)."""
        return self.base + "ecount"

    @property
    def nodes(self) -> str:
        return self.base + "nodes"

    @property
    def names(self) -> str:
        return self.base + "names"

    @property
    def deleted_edges(self) -> str:
        """Set of the edge ids that carry a tombstone."""
        return self.base + "edel"

    @property
    def deleted_nodes(self) -> str:
        """Set of the node ids that carry a tombstone."""
        return self.base + "ndel"

    @property
    def folded(self) -> str:
        """Hash ``topic/partition`` -> highest offset folded into the generation."""
        return self.base + "folded"

    # --- the generation's per-item keys ------------------------------------

    # --- the dedup window (``lua/dedup_window.lua``, ``core.dedup_window``) ---

    @property
    def dedup_meta(self) -> str:
        """Hash: per live bucket x, ``s<x>`` its segments' shard counts,
        ``n<x>`` its events, ``c<x>`` its last segment's, ``t<x>`` its opening."""
        return self.base + "dw"

    def dedup_set(self, bucket: int, segment: int, shard: int, family: str = "dd") -> str:
        """Set (intset) of the members of one shard of a bucket's segment:
        every event's (``dd``), the rejected ones' (``dr``), the ignored ones' (``di``)."""
        return f"{self.base}{family}:{bucket}.{segment}:{shard}"

    def dedup_ticket(self, token: str, first_hash: str) -> str:
        """String: the flags a fold call returned, for its retries."""
        return f"{self.base}dt:{token}:{first_hash[:16]}"

    def node(self, node_id: str) -> str:
        return f"{self.base}n:{node_id}"

    def edge(self, edge_id: str) -> str:
        return f"{self.base}e:{edge_id}"

    def marks(self, edge_id: str) -> str:
        """Set of the event marks of an edge."""
        return f"{self.base}em:{edge_id}"

    def outgoing(self, node_id: str) -> str:
        return f"{self.base}out:{node_id}"

    def incoming(self, node_id: str) -> str:
        return f"{self.base}in:{node_id}"

    # --- column lineage (docs/design.md section 5a) ---------------------------

    @property
    def column_pairs(self) -> str:
        """Set of the dataset pairs (source id + target id) that have column edges."""
        return self.base + "cpairs"

    @property
    def column_count(self) -> str:
        """Counter of the column edges stored (hidden ones included)."""
        return self.base + "ccount"

    @property
    def column_dict(self) -> str:
        """Hash job or transformation field <-> index ('#<index>'), of the packed values."""
        return self.base + "cdict"

    @property
    def column_datasets(self) -> str:
        """Hash dataset id -> JSON [namespace, name] of the datasets column edges touch."""
        return self.base + "cds"

    def column_pair(self, source_id: str, target_id: str) -> str:
        """Hash of a dataset pair's column edges (packed: core/column_payload.py)."""
        return f"{self.base}cp:{source_id}{target_id}"

    def column_feeds(self, node_id: str) -> str:
        """Set of the datasets the dataset's columns feed."""
        return f"{self.base}cso:{node_id}"

    def column_fed_by(self, node_id: str) -> str:
        """Set of the datasets whose columns feed the dataset's."""
        return f"{self.base}csi:{node_id}"

    def job(self, job_key_id: str) -> str:
        """Set of the ids of the edges that carry the job."""
        return f"{self.base}j:{job_key_id}"
