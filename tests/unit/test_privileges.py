"""LINEAGE_HTTP_TOKENS: parsing, the 401/403 decision, and secrets kept out of messages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from processor.core.privileges import Decision, Privilege, TokenTable, parse_tokens
from processor.settings import Settings

A = "aaaaaaaaaaaaaaaa-ingest"
B = "bbbbbbbbbbbbbbbb-both"
R = "rrrrrrrrrrrrrrrr/read=="


def test_parse() -> None:
    assert parse_tokens(f" ingest:{A}, ingest+DELETE:{B} ,read:{R},") == (
        (frozenset({Privilege.INGEST}), A),
        (frozenset({Privilege.INGEST, Privilege.DELETE}), B),
        (frozenset({Privilege.READ}), R),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"ingest{A}", "entry 1: expected PRIVILEGES:TOKEN"),
        (f"read:{R},write:{A}", "entry 2: unknown privilege 'write'"),
        ("ingest:short-secret", "entry 1: a token needs at least 16 characters"),
        ("ingest:has,comma-secret-xxxxx", "entry 1: a token needs at least 16"),
        ("ingest:has space secret xxxxxxx", "entry 1: a token may hold only"),
        (f"ingest:{A},read:{A}", "entry 2: the same token is listed twice"),
        (" , ", "no PRIVILEGES:TOKEN entry"),
    ],
)
def test_parse_errors_name_the_entry_never_the_token(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message) as caught:
        parse_tokens(text)
    for secret in (A, "short-secret", "has space secret", "secret-xxxxx"):
        assert secret not in str(caught.value)


def test_decisions() -> None:
    table = TokenTable.of(parse_tokens(f"ingest:{A},ingest+delete:{B},read:{R}"))
    cases = {
        (None, Privilege.INGEST): Decision.UNAUTHENTICATED,
        ("Bearer nope-nope-nope-nope", Privilege.INGEST): Decision.UNAUTHENTICATED,
        (f"Basic {A}", Privilege.INGEST): Decision.UNAUTHENTICATED,
        (f"Bearer {A}", Privilege.INGEST): Decision.ALLOWED,
        (f"bearer  {A} ", Privilege.INGEST): Decision.ALLOWED,
        (f"Bearer {A}", Privilege.DELETE): Decision.FORBIDDEN,
        (f"Bearer {A}", Privilege.READ): Decision.FORBIDDEN,
        (f"Bearer {B}", Privilege.DELETE): Decision.ALLOWED,
        (f"Bearer {B}", Privilege.READ): Decision.FORBIDDEN,
        (f"Bearer {R}", Privilege.READ): Decision.ALLOWED,
        (f"Bearer {R}", Privilege.INGEST): Decision.FORBIDDEN,
        (f"Bearer {A[:-1]}", Privilege.INGEST): Decision.UNAUTHENTICATED,
    }
    for (header, needed), expected in cases.items():
        assert table.decide(header, needed) is expected, (header, needed)


def test_no_token_means_open() -> None:
    assert TokenTable().decide(None, Privilege.DELETE) is Decision.ALLOWED
    assert not Settings().token_table().enabled


def test_settings_merge_the_legacy_read_token() -> None:
    s = Settings(http_tokens=f"ingest:{A},read:{R}", http_token=B)
    table = s.token_table()
    assert table.decide(f"Bearer {B}", Privilege.READ) is Decision.ALLOWED
    assert table.decide(f"Bearer {B}", Privilege.INGEST) is Decision.FORBIDDEN
    assert table.decide(f"Bearer {A}", Privilege.INGEST) is Decision.ALLOWED
    # The same token in both settings holds both sets of privileges.
    both = Settings(http_tokens=f"ingest:{A}", http_token=A).token_table()
    assert both.decide(f"Bearer {A}", Privilege.READ) is Decision.ALLOWED
    assert both.decide(f"Bearer {A}", Privilege.INGEST) is Decision.ALLOWED


def test_settings_refuse_a_bad_entry_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(http_tokens="ingest:short-secret")
    (error,) = caught.value.errors(include_url=False, include_input=False)
    assert "short-secret" not in str(error["msg"])
    assert "16 characters" in str(error["msg"])
    assert "short-secret" not in repr(Settings(http_tokens=f"ingest:{A}")).replace(A, "")
    assert A not in repr(Settings(http_tokens=f"ingest:{A}"))
