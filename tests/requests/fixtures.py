"""Fixtures shared by the request, portal and agency tests (imported by their conftest.py).

A real SMTP server (aiosmtpd) and a real HTTP server stand in for the outside world, each on
127.0.0.1 and a free port; the settings point at them for one test and are put back after.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from referrals.extensions import db
from tests import factories
from tests.conftest import Client, SignIn


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- settings ---------------------------------------------------------------------------


@pytest.fixture
def override_settings(app):
    """``override_settings(smtp_host=…)``: changed for this test, restored afterwards."""
    original = app.config["REFERRALS_SETTINGS"]

    def change(**fields):
        app.config["REFERRALS_SETTINGS"] = replace(app.config["REFERRALS_SETTINGS"], **fields)
        return app.config["REFERRALS_SETTINGS"]

    yield change
    app.config["REFERRALS_SETTINGS"] = original




# --- mail -------------------------------------------------------------------------------


class Mailbox:
    """What the local SMTP server received: parsed messages, in arrival order."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if address.lower() in m["X-Envelope-To"].lower()]

    @staticmethod
    def body(message) -> str:
        # SMTP carries CRLF line ends; compare text as written.
        return message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


# --- staff -------------------------------------------------------------------------------


@pytest.fixture
def agent(make_user):
    return make_user("agent", full_name="Agent Avery Made-up")


@pytest.fixture
def supervisor(make_user):
    return make_user("supervisor", full_name="Supervisor Sasha Made-up")


@pytest.fixture
def compliance(make_user):
    return make_user("compliance", full_name="Reviewer Robin Made-up")


@pytest.fixture(scope="session")
def smtp_server():
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def mailbox(smtp_server, override_settings):
    """Mail goes to the local SMTP server for this test; ``mailbox.messages`` holds it."""
    box: Mailbox = smtp_server.handler
    box.clear()
    override_settings(smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_starttls=False,
                      smtp_username=None)
    yield box
    box.clear()


# --- webhook ----------------------------------------------------------------------------


class WebhookReceiver:
    def __init__(self):
        self.calls: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/oncall"

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                receiver.calls.append({"path": self.path, "content_type":
                                       self.headers.get("Content-Type"), "raw": raw,
                                       "json": json.loads(raw),
                                       "idempotency_key": self.headers.get("Idempotency-Key")})
                self.send_response(204)
                self.send_header("X-Request-ID", f"hook-{len(receiver.calls)}")
                self.end_headers()

            def log_message(self, *args):  # keep test output quiet
                pass

        return Handler


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


# --- people and browsers ----------------------------------------------------------------


@pytest.fixture
def new_client(app):
    """``new_client()`` another browser with its own cookies; ``new_client(user)`` signs it in."""

    def make(user=None):
        app.test_client_class = Client
        other = app.test_client()
        other.environ_base["HTTP_REFERER"] = "https://localhost/"
        if user is not None:
            SignIn(other)(user)
        return other

    return make


@pytest.fixture
def agency_a():
    from tests.requests.helpers import make_agency

    return make_agency("Made-up Metro Police A", domains=["metro-a.police.example"],
                       phones=[("+12025550101", "Duty desk")])


@pytest.fixture
def agency_b():
    from tests.requests.helpers import make_agency

    return make_agency("Made-up County Sheriff B", domains=["county-b.sheriff.example"],
                       phones=[("+12025550202", "Watch commander")])


@pytest.fixture
def officer_a(agency_a):
    return factories.make_user("officer", agency=agency_a, email="det.alpha@metro-a.police.example",
                               full_name="Det. Alex Alpha")


@pytest.fixture
def officer_b(agency_b):
    return factories.make_user("officer", agency=agency_b,
                               email="dep.bravo@county-b.sheriff.example",
                               full_name="Dep. Blair Bravo")


@pytest.fixture
def officer_token():
    """``officer_token(user)``: a portal-made API token (requests:write) for that officer."""
    from referrals.core.identity import Identity
    from referrals.tokens.services import create_officer_token

    def make(user, name="Made-up records system"):
        _, secret = create_officer_token(Identity.for_user(user), name=name)
        return secret

    return make


@pytest.fixture
def irish_agency_a(agency_a):
    """Agency A as an Irish authority (its requests go to our EU entity): European
    Production and Preservation Orders come only from a participating member state."""
    agency_a.country = "IE"
    agency_a.legal_entity = "eu"
    db.session.flush()
    return agency_a


@pytest.fixture
def irish_agency_b(agency_b):
    """Agency B as an Irish authority (see irish_agency_a)."""
    agency_b.country = "IE"
    agency_b.legal_entity = "eu"
    db.session.flush()
    return agency_b
