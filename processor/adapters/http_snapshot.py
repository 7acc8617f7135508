"""The answer of the snapshot routes (the graph's and the columns'): ``asOf``
checked, the canonical bytes with their sha256 and ``asOf`` in headers, or
with ``?hash=1`` the hash with the counts alone."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from faust.web import Request, Response, View

from processor.adapters.http_backend import HttpBackend
from processor.core.snapshot import canonical_bytes
from processor.core.timefmt import format_time, normalize_time
from processor.errors import DependencyUnavailable

HASH_HEADER = "X-Snapshot-SHA256"
AS_OF_HEADER = "X-Snapshot-As-Of"

# Reads the snapshot as of a retention cutoff ("" for none).
SnapshotRead = Callable[[str], Awaitable[dict[str, Any]]]
# The counts the hash-only answer gives, by its field names.
SnapshotCounts = Callable[[dict[str, Any]], dict[str, int]]


async def snapshot_response(
    view: View,
    request: Request,
    worker: HttpBackend,
    read: SnapshotRead,
    counts: SnapshotCounts,
) -> Response:
    """400 for a bad ``asOf``, 503 while the store is down, else the snapshot."""
    raw = request.query.get("asOf")
    try:
        as_of = normalize_time(str(raw)) if raw else format_time(datetime.now(UTC))
    except ValueError as exc:
        return view.json({"error": f"asOf: {exc}", "parameter": "asOf"}, status=400)
    try:
        snapshot = await read(worker.floor(as_of))
    except DependencyUnavailable as exc:
        return view.json({"error": f"graph store unavailable: {exc}"}, status=503)
    body = canonical_bytes(snapshot)
    digest = hashlib.sha256(body).hexdigest()
    headers = {HASH_HEADER: digest, AS_OF_HEADER: as_of}
    if str(request.query.get("hash", "")).lower() in ("1", "true", "yes"):
        return view.json({"sha256": digest, **counts(snapshot), "asOf": as_of}, headers=headers)
    return view.bytes(body, content_type="application/json", headers=headers)
