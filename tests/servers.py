"""Real servers for tests that need them: a free port, a private redis-server, stopping a
process politely and then firmly."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen | None, timeout: float = 15) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def private_redis(directory: Path) -> Iterator[str]:
    """A redis-server of our own on a free port, saving nothing; yields its URL (db 0)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed, and the Redis job queue cannot be tested without it. "
            "Install it with `make system-deps` (Debian package redis-server)."
        )
    import redis

    port = free_port()
    log_path = directory / "redis.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("redis-server did not start: " + log_path.read_text())
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        stop(process)
        log.close()


@contextmanager
def moto_s3_server(directory: Path) -> Iterator[str]:
    """moto's standalone S3-compatible server on a free port (a test dependency: the
    registries offer no production S3 server); yields its endpoint URL. The code under test
    talks to it over HTTP exactly as it would to AWS S3 or MinIO."""
    import sys
    import urllib.request

    port = free_port()
    log_path = directory / "moto.log"
    log = log_path.open("w")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto's S3 server did not start: " + log_path.read_text())
                time.sleep(0.1)
        yield url
    finally:
        stop(process)
        log.close()
