"""Fixtures: one app per run, a rolled-back transaction per test, factories, sign-in helpers.

The suite runs on SQLite by default and on PostgreSQL when DATABASE_URL names one
(``.ci/run`` does both). Each test runs inside one outer transaction on one
connection; every session (the test's, and each request's) joins it through a
SAVEPOINT, and the outer transaction is rolled back at the end.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

os.environ["REFERRALS_ENV"] = "test"

from config import load_settings  # noqa: E402
from referrals import create_app  # noqa: E402
from referrals.extensions import db  # noqa: E402
from tests import factories  # noqa: E402
from tests.s3 import objects, s3_endpoint, s3_objects  # noqa: E402,F401 (fixtures)

TEST_PASSWORD = "correct horse battery staple 42"


def _reset_postgres_schema(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def pytest_collection_modifyitems(config, items):
    """With pytest-xdist (``make test`` runs ``-n auto --dist loadgroup``), the browser tests
    all go to one worker: one live server and one Chromium, not one per worker."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))
    # The multi-server test needs PostgreSQL (a cluster refuses SQLite): it runs in the
    # PostgreSQL pass of `make test` / CI and is left out of the SQLite pass.
    if not os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        chosen = [item for item in items if not item.get_closest_marker("cluster")]
        if len(chosen) != len(items):
            config.hook.pytest_deselected(
                items=[item for item in items if item.get_closest_marker("cluster")])
            items[:] = chosen


def _worker_database(url: str) -> str:
    """Under pytest-xdist each worker gets its own PostgreSQL database beside DATABASE_URL's
    (``referrals_test_gw0`` …), made if missing: the session fixture resets its schema."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                        {"n": name}).first()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    environ = dict(os.environ, REFERRALS_ENV="test", REFERRALS_INSTANCE_PATH=str(instance))
    base = load_settings(environ)
    if not base.is_sqlite:
        base = replace(base, database_url=_worker_database(base.database_url))
        _reset_postgres_schema(base.database_url)
    # High enough that sign-in tests never trip it; tests of the limit lower it.
    return replace(base, sign_in_rate_limit="1000 per minute")


@pytest.fixture(scope="session")
def app(settings):
    from flask_migrate import upgrade

    app = create_app(settings)
    app.config["PREFERRED_URL_SCHEME"] = "https"  # the test client speaks https, like production
    with app.app_context():
        upgrade()
    return app


class Client(FlaskClient):
    """Each request gets its own application context (fresh ``g``, own session),
    and the test's session forgets what it had loaded, as a new request would."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.expire_all()
        return response


@pytest.fixture(autouse=True)
def _transaction(app):
    """Everything a test writes is rolled back afterwards."""
    with app.app_context():
        engines = db._app_engines[app]
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        engines[None] = connection
        db.session.remove()
        db.session.configure(join_transaction_mode="create_savepoint")
        try:
            yield
        finally:
            db.session.remove()
            engines[None] = engine
            outer.rollback()
            connection.close()


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app):
    """Each test starts with empty rate-limit counters, whatever ran before it."""
    from referrals.extensions import limiter

    with app.app_context():
        limiter.reset()
    yield


@pytest.fixture
def client(app):
    app.test_client_class = Client
    client = app.test_client()
    # Browsers send a same-origin Referer on form posts; Flask-WTF requires it on HTTPS.
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    return client


@pytest.fixture
def frozen():
    """``frozen(moment)`` stops the clock there (services and pages read the same clock);
    it runs again after the test."""
    from referrals.core import clock

    def freeze(moment):
        clock.freeze(moment)
        return moment

    yield freeze
    clock.freeze(None)


@pytest.fixture
def checkpoint_dir(app, tmp_path):
    """Signed audit checkpoints go to this test's own directory: they sign events that the
    test's transaction holds and that are rolled back afterwards."""
    original = app.config["REFERRALS_SETTINGS"]
    directory = tmp_path / "audit-checkpoints"
    app.config["REFERRALS_SETTINGS"] = replace(original, audit_checkpoint_dir=directory)
    yield directory
    app.config["REFERRALS_SETTINGS"] = original


@pytest.fixture
def make_user():
    return factories.make_user


@pytest.fixture
def agency():
    return factories.AgencyFactory()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


class SignIn:
    """Signs a client in through the real pages: password, notice, then TOTP."""

    def __init__(self, client):
        self.client = client

    def password_step(self, email: str, password: str = TEST_PASSWORD, acknowledge=True):
        page = self.client.get("/login")
        data = {"email": email, "password": password, "csrf_token": csrf_from(page.text)}
        if acknowledge:
            data["acknowledge_notice"] = "y"
        return self.client.post("/login", data=data)

    def code_step(self, code: str):
        page = self.client.get("/tf-validate")
        return self.client.post(
            "/tf-validate", data={"code": code, "csrf_token": csrf_from(page.text)}
        )

    def __call__(self, user, password: str = TEST_PASSWORD):
        response = self.password_step(user.email, password)
        assert response.status_code == 302, response.text
        response = self.code_step(factories.totp_code(user))
        assert response.status_code == 302, response.text
        return response


@pytest.fixture
def sign_in(client):
    return SignIn(client)


@pytest.fixture
def as_role(client, sign_in):
    """``as_role("agent")`` makes a user with that role and signs the client in."""

    def go(role: str, **kwargs):
        user = factories.make_user(role, **kwargs)
        sign_in(user)
        return user

    return go


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")
