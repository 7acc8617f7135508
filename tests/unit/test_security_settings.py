"""Security settings: validation at start-up, secrets masked wherever settings
are shown, and the client options built from them for redis-py, aiokafka and
faust (the Kafka SASL/SSL pass-through is checked here, option by option,
against faust's own translation to aiokafka keywords)."""

from __future__ import annotations

import re
import ssl
import subprocess
from pathlib import Path

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from faust.types.auth import AuthProtocol, SASLMechanism

from processor.adapters.connections import (
    check_tls_files,
    faust_credentials,
    kafka_options,
    redis_options,
)
from processor.cli.settings_loader import load_settings
from processor.core.redact import redact_url
from processor.errors import ConfigurationError
from processor.settings import Settings

TOKEN = "t0ken-" + "x" * 26
REDIS_PW = "redis-S3cret"
SASL_PW = "sasl-S3cret"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean ``LINEAGE_*`` environment to load settings from."""
    for name in Settings.model_fields:
        monkeypatch.delenv(f"LINEAGE_{name.upper()}", raising=False)
    return monkeypatch


def _error(env: pytest.MonkeyPatch, **values: str) -> str:
    for name, value in values.items():
        env.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    return str(caught.value)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate and its key, an encrypted copy of the key,
    and a file that is not PEM."""
    d = tmp_path_factory.mktemp("pki")
    cert, key, locked = d / "client.pem", d / "client.key", d / "locked.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=lineage-test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-aes256", "-passout", "pass:pw", "-out",
         str(locked)],
        check=True, capture_output=True,
    )  # fmt: skip
    junk = d / "junk.pem"
    junk.write_text("not a certificate\n")
    return {"cert": cert, "key": key, "locked": locked, "junk": junk}


# --- masking ----------------------------------------------------------------------------------


def test_secrets_never_show_in_repr_str_or_dumps() -> None:
    s = Settings(
        redis_url=f"redis://user:{REDIS_PW}@redis:6379/0",
        redis_password=REDIS_PW + "2",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="svc",
        kafka_sasl_password=SASL_PW,
        http_token=TOKEN,
    )
    for shown in (repr(s), str(s), s.model_dump_json(), str(s.model_dump())):
        for secret in (REDIS_PW, SASL_PW, TOKEN):
            assert secret not in shown
    assert s.model_dump()["redis_url"] == "redis://user:***@redis:6379/0"
    # The values themselves are intact for the clients.
    assert s.redis_url.endswith(f"{REDIS_PW}@redis:6379/0")
    assert s.http_token is not None
    assert s.http_token.get_secret_value() == TOKEN


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("rediss://user:p%40ss@h/1?db=2", "rediss://user:***@h/1?db=2"),
        ("redis://h:6379/0?password=pw&db=1", "redis://h:6379/0?password=***&db=1"),
        ("redis://[::1]:6380/0", "redis://[::1]:6380/0"),
        ("redis://a:b@[::1]:6380/0", "redis://a:***@[::1]:6380/0"),
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("unix:///run/redis.sock?db=1", "unix:///run/redis.sock?db=1"),
        ("redis://:pw@h:notaport/0", "redis://***"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


# --- validation -------------------------------------------------------------------------------


def test_defaults_need_nothing(env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.kafka_security_protocol == "PLAINTEXT"
    assert s.http_token is None
    assert s.redis_password is None
    assert s.redis_tls_verify is True


@pytest.mark.parametrize(
    ("values", "says"),
    [
        (
            {"LINEAGE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
            "LINEAGE_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs LINEAGE_KAFKA_SASL_USERNAME",
        ),
        (
            {
                "LINEAGE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "LINEAGE_KAFKA_SASL_USERNAME": "u",
            },
            "needs LINEAGE_KAFKA_SASL_USERNAME and LINEAGE_KAFKA_SASL_PASSWORD",
        ),
        (
            {"LINEAGE_KAFKA_SASL_USERNAME": "u", "LINEAGE_KAFKA_SASL_PASSWORD": SASL_PW},
            "LINEAGE_KAFKA_SECURITY_PROTOCOL is PLAINTEXT",
        ),
        ({"LINEAGE_KAFKA_SECURITY_PROTOCOL": "TLS"}, "LINEAGE_KAFKA_SECURITY_PROTOCOL:"),
        (
            {
                "LINEAGE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "LINEAGE_KAFKA_SASL_MECHANISM": "GSSAPI",
            },
            "LINEAGE_KAFKA_SASL_MECHANISM:",
        ),
        ({"LINEAGE_KAFKA_SSL_CA_FILE": "/no/such/ca.pem"}, "LINEAGE_KAFKA_SSL_CA_FILE:"),
        ({"LINEAGE_REDIS_TLS_VERIFY": "false"}, "need a rediss:// LINEAGE_REDIS_URL"),
        ({"LINEAGE_REDIS_URL": "http://redis:6379"}, "LINEAGE_REDIS_URL: must start with"),
        ({"LINEAGE_HTTP_TOKEN": "short"}, "LINEAGE_HTTP_TOKEN: needs at least 16 characters"),
        ({"LINEAGE_HTTP_TOKEN": ""}, "LINEAGE_HTTP_TOKEN: needs at least 16 characters"),
        ({"LINEAGE_HTTP_TOKEN": "has a space in it, long enough"}, "LINEAGE_HTTP_TOKEN: may hold"),
    ],
)
def test_bad_combinations_are_one_line_configuration_errors(
    env: pytest.MonkeyPatch, values: dict[str, str], says: str
) -> None:
    message = _error(env, **values)
    assert says in message
    assert "\n" not in message
    for value in values.values():
        if "S3cret" in value or "long enough" in value:
            assert value not in message


def test_certificate_files_must_be_paired_and_used(
    env: pytest.MonkeyPatch, pki: dict[str, Path]
) -> None:
    cert, key = str(pki["cert"]), str(pki["key"])
    message = _error(env, LINEAGE_KAFKA_SECURITY_PROTOCOL="SSL", LINEAGE_KAFKA_SSL_CERT_FILE=cert)
    assert "LINEAGE_KAFKA_SSL_CERT_FILE and LINEAGE_KAFKA_SSL_KEY_FILE go together" in message
    env.delenv("LINEAGE_KAFKA_SECURITY_PROTOCOL")
    env.setenv("LINEAGE_KAFKA_SSL_KEY_FILE", key)
    message = _error(env)
    assert "need LINEAGE_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL, not PLAINTEXT" in message
    for name in ("LINEAGE_KAFKA_SSL_CERT_FILE", "LINEAGE_KAFKA_SSL_KEY_FILE"):
        env.delenv(name)
    message = _error(env, LINEAGE_REDIS_TLS_CA_FILE=cert)
    assert "LINEAGE_REDIS_TLS_CA_FILE: TLS settings need a rediss://" in message
    env.setenv("LINEAGE_REDIS_URL", "rediss://redis:6380/0")
    message = _error(env, LINEAGE_REDIS_TLS_KEY_FILE=key)
    assert "LINEAGE_REDIS_TLS_CERT_FILE and LINEAGE_REDIS_TLS_KEY_FILE go together" in message


@pytest.mark.parametrize("which", ["junk", "locked"])
def test_unloadable_certificates_fail_at_start_up_not_at_the_first_connection(
    env: pytest.MonkeyPatch, pki: dict[str, Path], which: str
) -> None:
    # An encrypted key is refused, never prompted for on the terminal.
    kafka = _error(
        env,
        LINEAGE_KAFKA_SECURITY_PROTOCOL="SSL",
        LINEAGE_KAFKA_SSL_CERT_FILE=str(pki["cert"]),
        LINEAGE_KAFKA_SSL_KEY_FILE=str(pki[which]),
    )
    assert kafka.startswith("LINEAGE_KAFKA_SSL_*: cannot load")
    for name in ("SECURITY_PROTOCOL", "SSL_CERT_FILE", "SSL_KEY_FILE"):
        env.delenv(f"LINEAGE_KAFKA_{name}")
    redis = _error(
        env,
        LINEAGE_REDIS_URL="rediss://redis:6380/0",
        LINEAGE_REDIS_TLS_CERT_FILE=str(pki["cert"]),
        LINEAGE_REDIS_TLS_KEY_FILE=str(pki[which]),
    )
    assert redis.startswith("LINEAGE_REDIS_TLS_*: cannot load")


# --- Redis options ----------------------------------------------------------------------------


def test_redis_password_setting_overrides_the_url_and_takes_it_out_of_the_url() -> None:
    url, options = redis_options(
        Settings(redis_url="redis://olduser:oldpw@redis:6379/2", redis_password=REDIS_PW)
    )
    assert url == "redis://redis:6379/2"
    assert options == {"username": "olduser", "password": REDIS_PW}

    url, options = redis_options(
        Settings(redis_url="redis://redis:6379/0?password=old&db=3", redis_username="svc")
    )
    assert url == "redis://redis:6379/0?db=3"
    assert options == {"username": "svc", "password": "old"}


def test_a_url_password_alone_is_left_to_redis_py() -> None:
    url, options = redis_options(Settings(redis_url="redis://:p%40ss@redis:6379/0"))
    assert (url, options) == ("redis://:p%40ss@redis:6379/0", {})


def test_redis_tls_options(pki: dict[str, Path]) -> None:
    s = Settings(
        redis_url="rediss://redis:6380/0",
        redis_tls_ca_file=pki["cert"],
        redis_tls_cert_file=pki["cert"],
        redis_tls_key_file=pki["key"],
    )
    url, options = redis_options(s)
    assert url == "rediss://redis:6380/0"
    assert options == {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": str(pki["cert"]),
        "ssl_certfile": str(pki["cert"]),
        "ssl_keyfile": str(pki["key"]),
        "ssl_password": "",
    }
    check_tls_files(s)
    _, options = redis_options(Settings(redis_url="rediss://redis:6380/0", redis_tls_verify=False))
    assert options == {"ssl_cert_reqs": "none", "ssl_check_hostname": False}
    # redis-py accepts every one of them.
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, **redis_options(s)[1])
    assert client.connection_pool.connection_kwargs["ssl_certfile"] == str(pki["cert"])


# --- Kafka options: aiokafka and faust --------------------------------------------------------


def _sasl(protocol: str, mechanism: str = "SCRAM-SHA-512", **extra: object) -> Settings:
    return Settings(
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="svc-lineage",
        kafka_sasl_password=SASL_PW,
        **extra,  # type: ignore[arg-type]
    )


def test_plaintext_is_aiokafkas_default_and_faust_gets_no_credentials() -> None:
    s = Settings()
    assert kafka_options(s) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(s) is None
    assert credentials_to_aiokafka_auth(None) == kafka_options(s)


def test_sasl_plaintext(pki: dict[str, Path]) -> None:
    s = _sasl("SASL_PLAINTEXT", "PLAIN")
    assert kafka_options(s) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "svc-lineage",
        "sasl_plain_password": SASL_PW,
    }
    creds = faust_credentials(s)
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.protocol is AuthProtocol.SASL_PLAINTEXT
    assert creds.mechanism is SASLMechanism.PLAIN
    assert SASL_PW not in repr(creds)
    assert {**credentials_to_aiokafka_auth(creds), "ssl_context": None} == {
        **kafka_options(s),
        "ssl_context": None,
    }


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_matches_what_faust_gives_aiokafka(pki: dict[str, Path], mechanism: str) -> None:
    s = _sasl("SASL_SSL", mechanism, kafka_ssl_ca_file=pki["cert"])
    options = kafka_options(s)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == mechanism
    context = options.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert len(context.get_ca_certs()) == 1  # the CA file, not the system's

    creds = faust_credentials(s)
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.protocol is AuthProtocol.SASL_SSL
    faust_options = dict(credentials_to_aiokafka_auth(creds))
    assert isinstance(faust_options.pop("ssl_context"), ssl.SSLContext)
    assert faust_options == options


def test_ssl_with_a_client_certificate(pki: dict[str, Path]) -> None:
    s = Settings(
        kafka_security_protocol="SSL",
        kafka_ssl_ca_file=pki["cert"],
        kafka_ssl_cert_file=pki["cert"],
        kafka_ssl_key_file=pki["key"],
    )
    options = kafka_options(s)
    assert set(options) == {"security_protocol", "ssl_context"}
    assert options["security_protocol"] == "SSL"
    creds = faust_credentials(s)
    assert isinstance(creds, faust.SSLCredentials)
    assert credentials_to_aiokafka_auth(creds)["security_protocol"] == "SSL"
    check_tls_files(s)


def test_the_worker_hands_the_credentials_to_faust(pki: dict[str, Path]) -> None:
    from processor.app import LineageWorker

    s = _sasl("SASL_SSL", kafka_ssl_ca_file=pki["cert"], classifier_processes=0)
    worker = LineageWorker(s)
    creds = worker.app.conf.broker_credentials
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password) == ("svc-lineage", SASL_PW)
    assert creds.protocol is AuthProtocol.SASL_SSL
    assert creds.mechanism is SASLMechanism.SCRAM_SHA_512
    assert worker.publisher._config["sasl_plain_password"] == SASL_PW
    assert worker.publisher._config["security_protocol"] == "SASL_SSL"


# --- deployment -------------------------------------------------------------------------------


def test_every_secret_setting_is_an_optional_secret_ref_in_the_deployment() -> None:
    import yaml

    root = Path(__file__).resolve().parents[2]
    docs = yaml.safe_load_all((root / "deploy/k8s/deployment.yaml").read_text())
    deployment = next(d for d in docs if d and d.get("kind") == "Deployment")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e}
    secret_settings = {
        f"LINEAGE_{name.upper()}"
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }
    assert secret_settings == {
        "LINEAGE_REDIS_PASSWORD",
        "LINEAGE_KAFKA_SASL_PASSWORD",
        "LINEAGE_HTTP_TOKEN",
        "LINEAGE_HTTP_TOKENS",
    }
    assert secret_settings <= set(refs)
    assert all(ref["optional"] is True for ref in refs.values())


def _documented_default(value: object) -> str:
    """A default as docs/configuration.md writes it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(getattr(value, "value", value))


def test_the_configuration_doc_lists_every_setting_with_its_default_and_nothing_else() -> None:
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "configuration.md").read_text(encoding="utf-8")
    table = doc.split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, str] = {}
    for row in re.findall(r"^\| (`LINEAGE_.+)$", table, flags=re.MULTILINE):
        names, default = (cell.strip() for cell in row.split(" | ")[:2])
        for name in re.findall(r"`LINEAGE_([A-Z0-9_]+)`", names):
            documented[name.lower()] = default.strip("`")
    assert sorted(documented) == sorted(Settings.model_fields)
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default
        assert documented[name] == _documented_default(default), name
