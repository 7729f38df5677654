"""Health, readiness, metrics and structured logs: what an operator's tools read."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event

from referrals.core.clock import now
from referrals.core.outbox import OutboxEntry
from referrals.core.s3store import S3Objects
from referrals.core.storage import BlobStore
from referrals.extensions import db
from referrals.operations import health
from referrals.operations.logs import JsonFormatter, RequestIdFilter
from tests.requests.helpers import submit


def test_ready_when_database_queue_and_storage_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {
        "database": "ok", "job_queue": "ok", "storage": "ok", "storage_keys": "ok"}}


def test_not_ready_names_the_failed_check_and_nothing_more(client, monkeypatch, caplog):
    def unreachable():
        raise OSError("mount /srv/evidence: stale file handle, secret-path")

    monkeypatch.setitem(health.CHECKS, "storage", unreachable)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["storage"] == "failed"
    assert response.json["checks"]["database"] == "ok"
    assert "secret-path" not in response.get_data(as_text=True)
    assert "stale file handle" in caplog.text, "the cause goes to the log"


def test_on_s3_ready_means_the_bucket_answers(app, client, s3_endpoint, s3_objects):
    keys = app.config["REFERRALS_SETTINGS"].storage_keys
    before = app.extensions.get("referrals_store")
    try:
        app.extensions["referrals_store"] = BlobStore(s3_objects, keys)
        assert client.get("/readyz").json["checks"]["storage"] == "ok"
        gone = S3Objects.connect("a-bucket-nobody-made", endpoint_url=s3_endpoint,
                                 path_style=True)
        app.extensions["referrals_store"] = BlobStore(gone, keys)
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json["checks"]["storage"] == "failed"
    finally:
        app.extensions["referrals_store"] = before


@pytest.fixture
def metrics_token(app):
    settings = app.config["REFERRALS_SETTINGS"]
    app.config["REFERRALS_SETTINGS"] = replace(settings, metrics_token="m" * 32)
    yield "m" * 32
    app.config["REFERRALS_SETTINGS"] = settings


def test_metrics_are_off_without_a_token(client):
    response = client.get("/metrics")
    assert response.status_code == 404
    assert "REFERRALS_METRICS_TOKEN" in response.get_data(as_text=True)


def test_metrics_answer_only_their_bearer_token(client, metrics_token):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 32})
    assert wrong.status_code == 401
    right = client.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
    assert right.status_code == 200
    assert right.mimetype == "text/plain"


def _gauge(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} is not in the metrics")


def test_metrics_count_what_waits(app, client, metrics_token, officer_a):
    headers = {"Authorization": f"Bearer {metrics_token}"}
    before = client.get("/metrics", headers=headers).get_data(as_text=True)
    with app.app_context():
        submit(officer_a, request_type="emergency", emergency=True)
        db.session.add(OutboxEntry(key="metrics-test-failed", job="tests.nothing", arguments={},
                                   state="failed", attempts=6,
                                   created_at=now() - timedelta(hours=2),
                                   next_attempt_at=now(), last_error="it broke"))
        db.session.commit()
    after = client.get("/metrics", headers=headers).get_data(as_text=True)
    assert _gauge(after, "referrals_emergencies_waiting") == \
        _gauge(before, "referrals_emergencies_waiting") + 1
    assert _gauge(after, "referrals_jobs_failed") == _gauge(before, "referrals_jobs_failed") + 1
    assert 'referrals_deadlines_overdue{kind="holds"}' in after
    assert "referrals_audit_checkpoint_age_seconds" in after
    assert "referrals_job_queue_depth" in after
    # the requests just made were timed
    assert 'referrals_http_request_duration_seconds_count{endpoint="metrics",method="GET",' \
           'status="2xx"}' in after


def test_a_log_line_is_json_with_the_request_id_and_no_query_string(app, client):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("referrals.access")
    access.addHandler(handler)
    try:
        response = client.get("/healthz?email=someone@example.test",
                              headers={"X-Request-ID": "req-0123456789abcdef"})
    finally:
        access.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == response.headers["X-Request-ID"] == "req-0123456789abcdef"
    assert (line["method"], line["endpoint"], line["path"], line["status"]) == \
        ("GET", "health", "/healthz", 200)
    assert "someone@example.test" not in stream.getvalue()
    assert line["level"] == "INFO" and line["time"].endswith("+00:00")


def test_the_access_line_names_the_user_without_loading_it_again(app, client, as_role):
    """The access line is written after the request's commit, which expires the signed-in
    user: reading its id or whether it is signed in must not load it again (a transaction and
    a query on every page, issue 16's mixed traffic)."""
    user = as_role("agent")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("referrals.access")
    statements: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()).upper())

    access.addHandler(handler)
    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        assert client.get("/cases/?view=open").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
        access.removeHandler(handler)
    [line] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert line["user_id"] == user.id
    ended = max(i for i, s in enumerate(statements) if s.startswith(("COMMIT", "RELEASE")))
    assert statements[ended + 1:] == []
