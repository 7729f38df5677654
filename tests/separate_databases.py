"""Databases apart from the session's, for tests that need real commits or other processes.

The session database runs every test inside a rolled-back transaction, which a
subprocess (the CLI, a job worker) cannot see and which serialises every session
onto one connection. Tests of those things get a database of their own: a file
under the test's tmp directory on SQLite, or a freshly created database on the
same PostgreSQL server when the suite runs on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def separate_database(settings, tmp_path: Path, label: str) -> Iterator[str]:
    """Yield the URL of an empty database; drop it afterwards (PostgreSQL)."""
    if settings.is_sqlite:
        yield f"sqlite:///{tmp_path / f'{label}.db'}"
        return
    base = make_url(settings.database_url)
    name = f"{base.database}_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(settings.database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            drop_database(admin, name)
        finally:
            admin.dispose()


def drop_database(admin, name: str, attempts: int = 20) -> None:
    """DROP DATABASE … WITH (FORCE). It fails while a backend our role may not terminate is
    connected (an autovacuum worker that just started on the new database): wait, retry."""
    from sqlalchemy.exc import DBAPIError

    for attempt in range(attempts):
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


def checkpoint_dir_for(settings, database_url: str) -> Path:
    """Signed audit checkpoints belong to one database: each gets its own directory, or a
    database would be checked against another's checkpoints."""
    label = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return settings.instance_path / "audit-checkpoints-by-database" / label


def app_for(settings, database_url: str, **overrides):
    """A second application for another database, in this process.

    Its settings are the session's except the database (and ``overrides``), because
    create_app() re-initialises the shared extension objects (Flask-Security keeps
    state on its Security object): identical settings leave the session app working.
    """
    from referrals import create_app

    overrides.setdefault("audit_checkpoint_dir", checkpoint_dir_for(settings, database_url))
    app = create_app(replace(settings, database_url=database_url, **overrides))
    app.config["PREFERRED_URL_SCHEME"] = "https"
    return app


def cli_environ(settings, database_url: str, **extra: str) -> dict[str, str]:
    """The environment for ``flask --app referrals …`` run against ``database_url``."""
    environ = {
        key: value for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "REFERRALS_JOBS_IMMEDIATE", "FLASK_APP"}
    }
    environ.update(
        REFERRALS_ENV="test",
        REFERRALS_INSTANCE_PATH=str(settings.instance_path),
        DATABASE_URL=database_url,
        REFERRALS_AUDIT_CHECKPOINT_DIR=str(checkpoint_dir_for(settings, database_url)),
        PYTHONUNBUFFERED="1",
    )
    environ.update(extra)
    return environ


def run_flask(environ: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``flask --app referrals ARGS`` as a separate process, the way an operator does."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "referrals", *args],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout,
    )
