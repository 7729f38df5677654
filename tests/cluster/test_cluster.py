"""Two app servers behind HAProxy and two job workers on PostgreSQL, Redis and an S3 bucket
(moto's standalone server), each process with an instance directory of its own -- what
deploy/ describes -- under a bounded mixed load.

Checked afterwards: no 5xx; a staff session works on either server; sign-in attempts are
counted across both (the rate limit lives in Redis); every durable job ran exactly once;
the every-minute audit checkpoint ran once per minute although both workers' schedulers
enqueue it; ``audit verify`` passes; every evidence file matches its hash; and every stored
file is in the bucket, none on any server's disk.

Runs in the PostgreSQL pass of ``make test`` (marker ``cluster``): a cluster needs
PostgreSQL, and the SQLite pass leaves it out.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from referrals.demo.seed import demo_password
from tests.requests.helpers import api_body
from tests.separate_databases import ROOT, cli_environ, run_flask, separate_database
from tests.s3 import new_bucket
from tests.servers import free_port, private_redis, stop

pytestmark = pytest.mark.cluster

BIN = Path(sys.executable).parent
AGENT = "agent@referrals.example"
OFFICER = "det.rivera@metrocity-pd.example"


def ok(done) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class Cluster:
    def __init__(self, environ: dict[str, str], directory: Path):
        self.environ = environ
        self.directory = directory
        self.processes: list[subprocess.Popen] = []
        self.front = free_port()
        self.url = f"http://127.0.0.1:{self.front}"

    def spawn(self, name: str, *command: str, **extra: str) -> None:
        log = (self.directory / f"{name}.log").open("w")
        own = {"REFERRALS_INSTANCE_PATH": str(self.directory / name)}  # no shared directory
        self.processes.append(subprocess.Popen(
            command, cwd=ROOT, env={**self.environ, **own, **extra}, stdout=log,
            stderr=subprocess.STDOUT))

    def start(self) -> None:
        ports = [free_port(), free_port()]
        for number, port in enumerate(ports, 1):
            self.spawn(f"app{number}", str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py",
                       REFERRALS_BIND=f"127.0.0.1:{port}", REFERRALS_WEB_WORKERS="1",
                       REFERRALS_WEB_THREADS="4",
                       PROMETHEUS_MULTIPROC_DIR=str(self.directory / f"metrics{number}"))
        for number in (1, 2):
            self.spawn(f"worker{number}", str(BIN / "huey_consumer"), "referrals.worker.huey",
                       "--workers", "2", "--worker-type", "thread")
        self.spawn("haproxy", "haproxy", "-db", "-f", "deploy/haproxy.cfg",
                   FRONT_PORT=str(self.front), APP1_PORT=str(ports[0]),
                   APP2_PORT=str(ports[1]))
        deadline = time.monotonic() + 120
        seen: set[str] = set()
        while seen != {"app1", "app2"}:
            if time.monotonic() > deadline:
                raise AssertionError("the cluster did not come up: " + self.logs())
            try:
                response = httpx.get(self.url + "/readyz", timeout=5)
                if response.status_code == 200:
                    seen.add(response.headers.get("X-Served-By", ""))
            except httpx.HTTPError:
                pass
            time.sleep(0.3)

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text()[-3000:]}"
                         for path in sorted(self.directory.glob("*.log")))

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop(process)


def shared_secrets(directory: Path) -> dict[str, str]:
    """What every server of a cluster has the same of (from a secrets manager in production);
    synthetic here."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(directory / "signing-key")], check=True)
    return {"SECRET_KEY": secrets.token_urlsafe(40), "REFERRALS_PASSWORD_SALT": "cluster-salt-" * 2,
            "REFERRALS_TOTP_SECRETS": "1:" + secrets.token_urlsafe(32),
            "REFERRALS_STORAGE_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
            "REFERRALS_SIGNING_KEY_FILE": str(directory / "signing-key")}


@pytest.fixture
def cluster(settings, tmp_path, s3_endpoint):
    bucket = new_bucket(s3_endpoint)
    with separate_database(settings, tmp_path, "cluster") as url, \
            private_redis(tmp_path) as redis_url:
        base = redis_url.rsplit("/", 1)[0]
        environ = cli_environ(
            settings, url, REFERRALS_ENV="development",
            REFERRALS_INSTANCE_PATH=str(tmp_path / "operator"),
            REDIS_URL=f"{base}/0", REFERRALS_RATE_LIMIT_STORAGE=f"{base}/1",
            REFERRALS_CLUSTER="1", REFERRALS_TRUSTED_PROXIES="1",
            REFERRALS_STORAGE="s3", REFERRALS_S3_BUCKET=bucket.bucket,
            REFERRALS_S3_ENDPOINT_URL=s3_endpoint, REFERRALS_S3_PATH_STYLE="1",
            REFERRALS_SECURE_COOKIES="0", REFERRALS_JOBS_IMMEDIATE="0",
            REFERRALS_AUDIT_CHECKPOINT_MINUTES="1", REFERRALS_SIGN_IN_RATE_LIMIT="5 per minute",
            # Kept apart from the servers, as an anchor is (production: the webhook).
            REFERRALS_AUDIT_CHECKPOINT_DIR=str(tmp_path / "checkpoints-kept-elsewhere"),
            REFERRALS_LOG_FORMAT="json", **shared_secrets(tmp_path))
        ok(run_flask(environ, "db", "upgrade"))
        ok(run_flask(environ, "demo", "seed"))
        running = Cluster(environ, tmp_path)
        try:
            running.start()
            yield running, url, bucket
        finally:
            running.stop()


def token(environ, email: str, *scopes: str) -> str:
    args = [arg for scope in scopes for arg in ("--scope", scope)]
    said = ok(run_flask(environ, "tokens", "create", email, *args))
    return said.strip().splitlines()[-1].strip()


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def sign_in(client: httpx.Client, environ, email: str) -> None:
    page = client.get("/login")
    response = client.post("/login", data={"email": email, "password": demo_password(email),
                                           "acknowledge_notice": "y",
                                           "csrf_token": csrf(page.text)})
    assert response.status_code == 302, response.text
    code = ok(run_flask(environ, "demo", "totp", email)).split()[0]
    page = client.get("/tf-validate")
    response = client.post("/tf-validate", data={"code": code, "csrf_token": csrf(page.text)})
    assert response.status_code == 302, response.text


def test_two_servers_two_workers_under_mixed_load(cluster):
    running, database_url, bucket = cluster
    environ, url = running.environ, running.url
    statuses: list[tuple[str, int, str]] = []

    def record(what: str, response: httpx.Response) -> httpx.Response:
        statuses.append((what, response.status_code, response.headers.get("X-Served-By", "")))
        return response

    escalations = token(environ, AGENT, "escalations:write", "evidence:write", "cases:read")
    officer = token(environ, OFFICER, "requests:write")
    staff = httpx.Client(base_url=url, timeout=60)
    sign_in(staff, environ, AGENT)
    started = time.monotonic()
    started_at = datetime.now(UTC)

    def escalate(number: int) -> None:
        with httpx.Client(base_url=url, timeout=60,
                          headers={"Authorization": f"Bearer {escalations}"}) as api:
            body = {"source_system": "cluster-test", "external_id": f"CLUSTER-{number}",
                    "category": "violent_extremism", "reason": "classifier",
                    "detected_at": "2026-01-01T00:00:00+00:00",
                    "accounts": [{"label": f"made_up_{number}", "identifiers": [
                        {"kind": "platform_user_id", "value": f"u-cluster-{number}"}]}]}
            created = record("escalation", api.post("/api/v1/escalations", json=body))
            reference = created.json().get("case_reference")
            if number % 2 == 0 and reference:
                record("upload", api.post(f"/api/v1/cases/{reference}/evidence",
                                          params={"filename": f"made-up-{number}.bin"},
                                          content=os.urandom(256 * 1024),
                                          headers={"Content-Type": "application/octet-stream"}))

    def submit(number: int) -> None:
        with httpx.Client(base_url=url, timeout=60,
                          headers={"Authorization": f"Bearer {officer}"}) as api:
            body = api_body(official_email=OFFICER,
                            targets=[{"kind": "platform_user_id", "value": f"u-req-{number}"}])
            created = record("request", api.post("/api/v1/requests", json=body))
            reference = created.json().get("reference")
            if reference:
                record("request page", api.get(f"/api/v1/requests/{reference}"))

    def work_queues(number: int) -> None:
        record("queue", staff.get("/cases/"))
        record("home", staff.get("/"))
        record("requests queue", staff.get("/requests/"))

    with ThreadPoolExecutor(6) as pool:
        for future in [*(pool.submit(escalate, n) for n in range(12)),
                       *(pool.submit(submit, n) for n in range(6)),
                       *(pool.submit(work_queues, n) for n in range(10))]:
            future.result()

    # no 5xx, and every answer a success
    assert [s for s in statuses if s[1] >= 500] == [], running.logs()
    assert all(s[1] < 400 or s[1] == 302 for s in statuses), statuses
    # a staff session works on either server
    served = Counter(server for what, code, server in statuses
                     if what in ("queue", "requests queue") and code == 200)
    assert set(served) == {"app1", "app2"}, served
    # sign-in attempts are counted across both servers: the sixth in a minute is refused
    attempts = []
    with httpx.Client(base_url=url, timeout=30) as stranger:
        form = csrf(stranger.get("/login").text)
        for _ in range(6):
            attempts.append(stranger.post("/login", data={
                "email": "nobody@referrals.example", "password": "wrong password, made up",
                "acknowledge_notice": "y", "csrf_token": form}))
    assert {a.headers.get("X-Served-By") for a in attempts} == {"app1", "app2"}
    assert [a.status_code for a in attempts][-1] == 429

    engine = create_engine(database_url)
    try:
        # every durable job ran, exactly once
        deadline = time.monotonic() + 180
        with engine.connect() as connection:
            while True:
                waiting = connection.execute(text(
                    "SELECT count(*) FROM outbox WHERE state IN ('pending', 'running')")).scalar()
                connection.commit()
                if waiting == 0:
                    break
                assert time.monotonic() < deadline, "durable jobs still waiting\n" + running.logs()
                time.sleep(1)
            rows = connection.execute(text("SELECT job, state, attempts FROM outbox")).all()
        assert rows, "the load queued durable work"
        assert {(state, attempts) for _, state, attempts in rows} == {("done", 1)}, rows
        # the every-minute checkpoint ran once per minute, over at least two minutes
        while time.monotonic() - started < 130:
            time.sleep(2)
        with engine.connect() as connection:
            minutes = Counter(connection.execute(text(
                "SELECT date_trunc('minute', occurred_at) FROM audit_events "
                "WHERE action = 'audit.checkpoint_written' AND occurred_at >= :started"),
                {"started": started_at}).scalars())
        assert len(minutes) >= 2, minutes
        assert set(minutes.values()) == {1}, minutes
    finally:
        engine.dispose()
    running.stop()
    assert "Audit chain intact" in ok(run_flask(environ, "audit", "verify"))
    assert "Everything matches." in ok(run_flask(environ, "backup", "check"))
    # every stored file is in the bucket (read back by the operator's machine just now), and
    # no server kept one on its disk
    stored = list(bucket.names())
    assert len(stored) > 10, stored
    for name in ("app1", "app2", "worker1", "worker2"):
        assert not list((running.directory / name).glob("evidence/*/*.blob")), name
