"""A real server for browser tests, in its own process with its own database.

A subprocess, not a thread: the extensions (db, limiter, security …) are module
singletons, and the server's app must not share them with the app the rest of
the test suite builds in this process. The database is a fresh SQLite file, or,
when DATABASE_URL names PostgreSQL, a separate database made for this run, so
the browser tests never touch the database the other tests roll back in.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
FLASK = [str(Path(sys.executable).with_name("flask")), "--app", "referrals"]
# One per test process, so two runs on the same PostgreSQL server never collide; a second
# server in the same process (a module that needs other settings) gets a numbered one.
BROWSER_DATABASE = f"referrals_test_browser_{os.getpid()}"
_servers = itertools.count()

# Debian's Chromium; Playwright's own browser download is not available here.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _recreate_postgres_database(url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    from tests.separate_databases import drop_database

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        drop_database(engine, name)
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def _drop_postgres_database(url: str, name: str) -> None:
    from sqlalchemy import create_engine

    from tests.separate_databases import drop_database

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        drop_database(engine, name)
    finally:
        engine.dispose()


class LiveServer:
    """``flask run`` on a free port with a migrated, demo-seeded database.

    Use as a context manager; ``url`` is the base address, ``log`` the server's output.
    ``extra_env`` adds or overrides settings (``REFERRALS_SMTP_HOST`` …) for this server.
    """

    def __init__(self, instance_path: Path, *, database_url: str | None = None,
                 extra_env: dict[str, str] | None = None):
        self.instance_path = Path(instance_path)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.instance_path / "server.log"
        given = os.environ.get("DATABASE_URL", "") if database_url is None else database_url
        if given.startswith("postgresql://"):
            given = "postgresql+psycopg://" + given[len("postgresql://"):]
        self._admin_url = given if _is_postgres(given) else None
        number = next(_servers)
        self.database_name = BROWSER_DATABASE if number == 0 else f"{BROWSER_DATABASE}_{number}"
        if self._admin_url:
            self.database_url = _with_database(given, self.database_name)
        else:
            self.database_url = f"sqlite:///{self.instance_path / 'browser.db'}"
        env = {
            key: value for key, value in os.environ.items()
            if not key.startswith(("REFERRALS_", "FLASK_", "WERKZEUG_"))
        }
        env.update(
            REFERRALS_ENV="test",
            REFERRALS_INSTANCE_PATH=str(self.instance_path),
            REFERRALS_SECURE_COOKIES="0",
            REFERRALS_SIGN_IN_RATE_LIMIT="200 per minute",
            # Links in the mail it sends (confirmation, updates) lead back to this server.
            REFERRALS_BASE_URL=self.url,
            # The staff home asks for its work this often (a person's default is 15 s).
            REFERRALS_DASHBOARD_REFRESH_SECONDS="2",
            DATABASE_URL=self.database_url,
            PYTHONUNBUFFERED="1",
        )
        env.update(extra_env or {})
        self.env = env
        self._process: subprocess.Popen | None = None
        self._log_file = None

    # -- commands -----------------------------------------------------------------
    def flask(self, *args: str) -> str:
        """Run ``flask --app referrals ARGS`` against this server's database."""
        result = subprocess.run(
            [*FLASK, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"flask {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    def start(self) -> LiveServer:
        self.instance_path.mkdir(parents=True, exist_ok=True)
        if self._admin_url:
            _recreate_postgres_database(self._admin_url, self.database_name)
        self.flask("db", "upgrade")
        self.flask("demo", "seed")
        self._log_file = open(self.log, "ab")
        self._process = subprocess.Popen(
            [*FLASK, "run", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=self.env, stdout=self._log_file, stderr=subprocess.STDOUT,
        )
        self._wait_until_healthy()
        return self

    def _wait_until_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not answer /healthz in {timeout:.0f} s:\n"
                           f"{self.log.read_text()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._admin_url:
            _drop_postgres_database(self._admin_url, self.database_name)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# The time step whose code was last handed out, per key: the server takes each code once.
_HANDED_OUT: dict[str, int] = {}


def totp_code(key: str, *, offset_steps: int = 0) -> str:
    """The code an authenticator app shows now (or ``offset_steps`` time steps away).

    The server accepts each code once, and several walks sign the same demo account in within
    30 seconds: a key's code for the current step is handed out once, and asking again in
    that step waits for the next one, as a person would."""
    from passlib.totp import TOTP

    if offset_steps:
        return TOTP(key=key, format="base32").generate(time=time.time() + 30 * offset_steps).token
    step = int(time.time() // 30)
    if _HANDED_OUT.get(key, -1) >= step:
        time.sleep((step + 1) * 30 - time.time() + 0.5)
        step = int(time.time() // 30)
    _HANDED_OUT[key] = step
    return TOTP(key=key, format="base32").generate(time=step * 30 + 1).token
