"""Reading a body under the bound: plain, gzip, a gzip bomb, bad encodings."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import pytest

from processor.ingest.body import BodyError, BodyReader, check_content_type

LIMIT = 1000


def _read(
    data: bytes, headers: dict[str, str] | None = None, length: int | None = None
) -> tuple[Any, int]:
    """(body or (status, reason), bytes fed) for ``data`` fed in chunks of 256
    bytes, as a connection feeds what arrives; feeding stops at the refusal."""
    taken = 0
    try:
        reader = BodyReader(LIMIT, (headers or {}).get("Content-Encoding"), length)
        while taken < len(data):
            chunk = data[taken : taken + 256]
            taken += len(chunk)
            reader.feed(chunk)
        return reader.finish(), taken
    except BodyError as exc:
        return (exc.status, exc.reason), taken


GZ = {"Content-Encoding": "gzip"}


def test_plain_and_gzip_bodies_up_to_the_bound() -> None:
    body = b"x" * LIMIT
    assert _read(body) == (body, LIMIT)
    assert _read(gzip.compress(body), GZ)[0] == body
    assert _read(gzip.compress(body), {"Content-Encoding": "x-gzip"})[0] == body
    assert _read(body, {"Content-Encoding": "identity"})[0] == body


def test_one_byte_over_is_too_large() -> None:
    assert _read(b"x" * (LIMIT + 1))[0] == (413, "too_large")
    assert _read(gzip.compress(b"x" * (LIMIT + 1)), GZ)[0] == (413, "too_large")


def test_a_declared_length_over_the_bound_reads_nothing() -> None:
    assert _read(b"x" * 10, length=LIMIT + 1) == ((413, "too_large"), 0)
    # gzip: the compressed bound has room for gzip's framing (1% + 1 KiB).
    assert _read(b"x", GZ, length=LIMIT + LIMIT // 100 + 1025) == ((413, "too_large"), 0)


def test_a_gzip_bomb_is_cut_after_little_input() -> None:
    deflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(deflater.compress(b"\0" * 65536) for _ in range(64)) + deflater.flush()
    assert len(bomb) < LIMIT * 5  # 4 MiB of zeros in a few KB
    answer, taken = _read(bomb, GZ)
    assert answer == (413, "too_large")
    assert taken <= 256  # the first chunk already inflates past the bound


@pytest.mark.parametrize(
    ("data", "headers", "reason"),
    [
        (b"", {}, "empty_body"),
        (b" \r\n\t", {}, "empty_body"),
        (b"", GZ, "empty_body"),
        (gzip.compress(b"  "), GZ, "empty_body"),
        (b"{}", {"Content-Encoding": "deflate"}, "unsupported_encoding"),
        (b"not gzip at all", GZ, "invalid_gzip"),
        (gzip.compress(b'{"a": 1}')[:-10], GZ, "invalid_gzip"),
    ],
)
def test_refusals(data: bytes, headers: dict[str, str], reason: str) -> None:
    assert _read(data, headers)[0] == (400, reason)


def test_json_content_types_only() -> None:
    for ok in (None, "application/json", "Application/JSON; charset=utf-8", "application/ld+json"):
        check_content_type(ok)
    with pytest.raises(BodyError) as refused:
        check_content_type("text/plain; charset=utf-8")
    assert (refused.value.status, refused.value.reason) == (400, "unsupported_content_type")
    assert "'text/plain'" in refused.value.error
