"""Bearer tokens with privileges: ``LINEAGE_HTTP_TOKENS``.

The setting is a comma-separated list of ``PRIVILEGES:TOKEN`` entries whose
privileges are joined by ``+``, e.g. ``ingest:<t1>,ingest+delete:<t2>,read:<t3>``.
The privileges mirror Snowflake's INGEST LINEAGE, DELETE LINEAGE and VIEW
LINEAGE. Pure code: parsing, and the decision a request's ``Authorization``
header gets (no token: 401; a token without the privilege: 403).

No message here ever holds a token: it would end up in a log.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum

MIN_TOKEN_LENGTH = 16
# RFC 6750's b64token: what a Bearer credential may hold, so that any HTTP
# client sends it unchanged.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class Privilege(StrEnum):
    """What a token allows."""

    INGEST = "ingest"  # POST events
    DELETE = "delete"  # DELETE lineage
    READ = "read"  # the worker's graph API


class Decision(Enum):
    """The outcome of checking a request's credentials for one privilege."""

    ALLOWED = 200
    UNAUTHENTICATED = 401  # no token, or one that is not configured
    FORBIDDEN = 403  # a configured token without the privilege


def check_token_shape(token: str) -> None:
    """``ValueError`` (without the token) when ``token`` is too short or not a b64token."""
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"a token needs at least {MIN_TOKEN_LENGTH} characters")
    if TOKEN_SHAPE.fullmatch(token) is None:
        raise ValueError("a token may hold only letters, digits and - . _ ~ + / (= at the end)")


def parse_tokens(text: str) -> tuple[tuple[frozenset[Privilege], str], ...]:
    """``(privileges, token)`` of each entry of ``text``; ``ValueError`` naming the
    entry by its position, never by its token."""
    grants: list[tuple[frozenset[Privilege], str]] = []
    seen: set[str] = set()
    entries = [part.strip() for part in text.split(",")]
    for position, entry in enumerate(entries, start=1):
        if not entry:
            continue
        where = f"entry {position}"
        words, sep, token = entry.partition(":")
        if not sep:
            raise ValueError(f"{where}: expected PRIVILEGES:TOKEN, e.g. ingest+delete:<token>")
        privileges = set()
        for word in words.split("+"):
            try:
                privileges.add(Privilege(word.strip().lower()))
            except ValueError:
                known = ", ".join(p.value for p in Privilege)
                raise ValueError(
                    f"{where}: unknown privilege {word.strip()!r} (known: {known})"
                ) from None
        token = token.strip()
        try:
            check_token_shape(token)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if token in seen:
            raise ValueError(f"{where}: the same token is listed twice")
        seen.add(token)
        grants.append((frozenset(privileges), token))
    if not grants:
        raise ValueError("no PRIVILEGES:TOKEN entry (unset it to turn authentication off)")
    return tuple(grants)


@dataclass(frozen=True)
class TokenTable:
    """The configured tokens and their privileges; empty means authentication is off."""

    grants: tuple[tuple[frozenset[Privilege], bytes], ...] = ()

    @classmethod
    def of(cls, grants: Iterable[tuple[Iterable[Privilege], str]]) -> TokenTable:
        """A table of ``(privileges, token)`` pairs; a token given twice gets the union."""
        merged: dict[str, set[Privilege]] = {}
        for privileges, token in grants:
            merged.setdefault(token, set()).update(privileges)
        return cls(tuple((frozenset(p), t.encode("utf-8")) for t, p in merged.items()))

    @property
    def enabled(self) -> bool:
        """Whether any token is configured (else every request is allowed)."""
        return bool(self.grants)

    def privileges(self, header: str | None) -> frozenset[Privilege] | None:
        """The privileges of the ``Authorization: Bearer`` token; None when it names
        no configured token. Every configured token is compared, each in constant
        time, so the answer's timing tells nothing about which one matched."""
        if not header:
            return None
        scheme, _, credential = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        offered = credential.strip().encode("utf-8", "replace")
        found: frozenset[Privilege] | None = None
        for privileges, token in self.grants:
            if hmac.compare_digest(offered, token):
                found = privileges
        return found

    def decide(self, header: str | None, needed: Privilege) -> Decision:
        """ALLOWED, UNAUTHENTICATED (401) or FORBIDDEN (403) for ``needed``."""
        if not self.enabled:
            return Decision.ALLOWED
        privileges = self.privileges(header)
        if privileges is None:
            return Decision.UNAUTHENTICATED
        return Decision.ALLOWED if needed in privileges else Decision.FORBIDDEN
