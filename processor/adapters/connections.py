"""Settings turned into client options: the one place that knows how Redis and
Kafka connections are authenticated and encrypted.

Every client the processor makes takes its options from here: the worker's
faust consumer and producer (:func:`faust_credentials`), the dead-letter
producer, the admin and reader helpers and the rebuild's consumer
(:func:`kafka_options`), and every graph store (:func:`redis_options`,
:func:`graph_store`).

Two library behaviours shape this module:

* redis-py's ``from_url`` lets the URL win over keyword arguments, so a
  ``LINEAGE_REDIS_PASSWORD`` (or user name) could never override one in the
  URL. When either is set, the URL's own credentials are taken out first.
* faust does not take aiokafka keywords; it takes ``broker_credentials``
  (``SASLCredentials`` or ``SSLCredentials``) and derives the security
  protocol from it: SASL with an SSL context is SASL_SSL, without one
  SASL_PLAINTEXT. So the SSL context is built for exactly the protocols that
  need it, and the same one rule is used for aiokafka clients.

A certificate or key that cannot be loaded is a ``ConfigurationError``, found
at start-up by :func:`check_tls_files` rather than at the first connection. An
encrypted private key is refused rather than prompted for on the terminal.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from processor.errors import ConfigurationError

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

    from processor.adapters.redis_store import RedisGraphStore
    from processor.settings import Settings


def _no_key_password() -> str:
    # OpenSSL would otherwise ask for the pass phrase on the terminal and hang.
    return ""


# --- Redis --------------------------------------------------------------------------------


def redis_options(settings: Settings) -> tuple[str, dict[str, Any]]:
    """(URL, keyword arguments) for redis-py's ``Redis.from_url``.

    ``LINEAGE_REDIS_USERNAME`` and ``LINEAGE_REDIS_PASSWORD`` override the
    URL's; a URL credential that is not overridden is kept. TLS options apply to
    ``rediss://`` URLs only (settings validation refuses them otherwise).
    """
    url = settings.redis_url
    options: dict[str, Any] = {}
    if settings.redis_username is not None or settings.redis_password is not None:
        url, username, password = _split_credentials(url)
        if settings.redis_username is not None:
            username = settings.redis_username
        if settings.redis_password is not None:
            password = settings.redis_password.get_secret_value()
        if username is not None:
            options["username"] = username
        if password is not None:
            options["password"] = password
    if url.lower().startswith("rediss://"):
        options.update(_redis_tls(settings))
    return url, options


def _redis_tls(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "ssl_cert_reqs": "required" if settings.redis_tls_verify else "none",
        "ssl_check_hostname": settings.redis_tls_verify,
    }
    if settings.redis_tls_ca_file is not None:
        options["ssl_ca_certs"] = str(settings.redis_tls_ca_file)
    if settings.redis_tls_cert_file is not None:
        options["ssl_certfile"] = str(settings.redis_tls_cert_file)
        options["ssl_keyfile"] = str(settings.redis_tls_key_file)
        options["ssl_password"] = ""  # see _no_key_password
    return options


def _split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """The URL without user name and password (in the user part or in the
    query), and those two, percent-decoded as redis-py would."""
    parts = urlsplit(url)
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() == "password":
            password = value
        elif key.lower() == "username":
            username = value
        else:
            query.append((key, value))
    netloc = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))
    return bare, username, password


def graph_store(
    settings: Settings, *, timeout: float | None = None, **kwargs: Any
) -> RedisGraphStore:
    """A graph store on its own connection pool (``timeout``: the settings'
    ``redis_timeout_seconds`` unless given; ``kwargs`` go to the store)."""
    from processor.adapters.redis_store import RedisGraphStore

    url, options = redis_options(settings)
    seconds = settings.redis_timeout_seconds if timeout is None else timeout
    # Every store reads the dedup window with the workers' TTL: it sets the
    # window's bucket width (core.dedup_window).
    kwargs.setdefault("dedup_ttl_seconds", settings.dedup_ttl_seconds)
    return RedisGraphStore.from_url(url, timeout=seconds, client_options=options, **kwargs)


# --- Kafka --------------------------------------------------------------------------------


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The SSL context of the SSL and SASL_SSL protocols (None for the others):
    the CA file, or the system's CAs, and the client certificate if any."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    from aiokafka.helpers import create_ssl_context

    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=_path(settings.kafka_ssl_ca_file),
            certfile=_path(settings.kafka_ssl_cert_file),
            keyfile=_path(settings.kafka_ssl_key_file),
            password=_no_key_password,
        )
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(f"LINEAGE_KAFKA_SSL_*: cannot load: {_why(exc)}") from None
    return context


def kafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for every aiokafka client (producer, consumer, admin)."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    context = kafka_ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=None if password is None else password.get_secret_value(),
        )
    return options


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """faust's ``broker_credentials`` for the same protocol (None: PLAINTEXT)."""
    import faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = kafka_ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    password = settings.kafka_sasl_password
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=None if password is None else password.get_secret_value(),
        ssl_context=context,  # SASL_SSL with one, SASL_PLAINTEXT without
        mechanism=settings.kafka_sasl_mechanism,
    )


# --- start-up check -----------------------------------------------------------------------


def check_tls_files(settings: Settings) -> None:
    """Load every configured certificate and key once; ``ConfigurationError``
    in one line naming the settings when one cannot be loaded."""
    kafka_ssl_context(settings)
    if not settings.redis_url.lower().startswith("rediss://"):
        return
    try:
        context = ssl.create_default_context(cafile=_path(settings.redis_tls_ca_file))
        if settings.redis_tls_cert_file is not None:
            context.load_cert_chain(
                str(settings.redis_tls_cert_file),
                _path(settings.redis_tls_key_file),
                password=_no_key_password,
            )
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(f"LINEAGE_REDIS_TLS_*: cannot load: {_why(exc)}") from None


def _path(value: Path | None) -> str | None:
    return None if value is None else str(value)


def _why(exc: BaseException) -> str:
    return str(exc).replace("\n", " ").strip() or type(exc).__name__
