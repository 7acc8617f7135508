"""Secrets kept out of what the processor prints: URLs with their password masked."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# redis-py passes unknown query arguments on as connection keywords, so
# ``?password=...`` is a password too.
_QUERY_SECRET = re.compile(r"(?i)(^|&)(password|ssl_password)=[^&]*")


def redact_url(url: str) -> str:
    """``url`` with the password of its user part (and a ``password`` query
    argument) replaced by ``***``.

    A URL that does not parse, or has no password, comes back unchanged
    except that a malformed one is cut to its scheme, so that whatever it
    holds is never echoed.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
        host = parts.hostname
        port = parts.port
    except ValueError:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        return f"{scheme}://{MASK}" if scheme else MASK
    query = _QUERY_SECRET.sub(lambda m: f"{m[1]}{m[2]}={MASK}", parts.query)
    if password is None:
        return urlunsplit(parts._replace(query=query)) if query != parts.query else url
    user = parts.username or ""
    netloc = f"{user}:{MASK}@{host or ''}"
    if ":" in (host or ""):
        netloc = f"{user}:{MASK}@[{host}]"
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
