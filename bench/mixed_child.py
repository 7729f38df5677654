"""Mixed traffic against the production server, in a process of its own (issue 16).

``python -m bench.mixed_child --cases N --connections C --requests R`` with
REFERRALS_INSTANCE_PATH and DATABASE_URL naming an empty database: migrate and seed it
(``flask demo seed --cases N``), make an API token for escalations (``flask tokens create``),
start gunicorn with the production configuration (``deploy/gunicorn.conf.py``), sign the
demo supervisor and a demo officer in through the real pages over HTTP, then:

1. the static stylesheet over C connections (the floor: this server, no database);
2. the case queue alone over C connections (what the "within 5x the floor" goal compares);
3. the mix: C connections at once, each going round the case queue, a case page, the
   officer's request page in the portal and an API escalation (a new case each time: a
   write, audited), R requests of each kind in all.

Prints one JSON line: per measurement, requests, req/s, p50/p99 (ms) and errors.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from html import unescape

from bench.children import ROOT, emit
from bench.http_load import Client, Request, load, start_production_server, stop_server, \
    wait_until_up
from bench.concurrency_child import free_port, seed, sign_in
from bench.report import progress

OFFICER = "det.rivera@metrocity-pd.example"
TOKEN_USER = "agent@referrals.example"  # filing escalations: what agents may do
CASE_LINK = re.compile(r'href="(/cases/CASE-\d{4}-\d{6})"')
PORTAL_REQUEST_LINK = re.compile(r'href="(/portal/requests/[^"?#]+)"')
KINDS = ("queue", "case page", "portal request page", "API escalation")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mixed_child")
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200,
                        help="requests of each kind in the mix")
    options = parser.parse_args()

    seed(options.cases)
    token = api_token()
    port = free_port()
    server, settings = start_production_server(port)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base)
        staff = sign_in(base)
        officer = sign_in(base, OFFICER)
        queue = Request("GET", "/cases/?view=open", cookies=staff)
        case = Request("GET", first_link(base, queue, CASE_LINK), cookies=staff)
        portal = Request("GET", first_link(base, Request("GET", "/portal/", cookies=officer),
                                           PORTAL_REQUEST_LINK), cookies=officer)
        static = Request("GET", "/static/app.css", cookies=staff)
        escalation = EscalationRequests(token)
        results = []
        for name, requests in (("static file (floor)", [static]), ("queue alone", [queue])):
            measured = load(base, requests, options.connections,
                            options.requests * len(KINDS), server=server.pid)
            results.append({"kind": name, "mixed": False, **measured[requests[0].label]})
            report(name, results[-1])
        progress(f"the mix: {', '.join(KINDS)}, {options.connections} connections")
        mix = [queue.named("queue"), case.named("case page"),
               portal.named("portal request page"), escalation]
        measured = load(base, mix, options.connections, options.requests * len(KINDS),
                        server=server.pid)
        for kind in KINDS:
            results.append({"kind": kind, "mixed": True, **measured[kind]})
            report(kind, results[-1])
        results.append({"kind": "all of the mix", "mixed": True, **measured["all"]})
    finally:
        stop_server(server)
    emit({"cases": options.cases, **settings, "connections": options.connections,
          "results": results})


def report(name: str, measured: dict) -> None:
    progress(f"{name}: {measured['rps']:.0f} req/s, p50 {measured['p50_ms']:.0f} ms, "
             f"p99 {measured['p99_ms']:.0f} ms, {measured['errors']} errors")


def api_token() -> str:
    """An escalations:write token for the demo agent, as an operator makes one."""
    made = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "referrals", "tokens", "create", TOKEN_USER,
         "--scope", "escalations:write", "--name", "mixed-traffic benchmark"],
        cwd=ROOT, capture_output=True, text=True, check=True)
    return made.stdout.strip().splitlines()[-1]


def first_link(base: str, page: Request, pattern: re.Pattern) -> str:
    with Client(base) as client:
        status, body = client.send(page)
    match = pattern.search(body.decode())
    if status != 200 or not match:
        raise SystemExit(f"{page.path} answered {status} with no link to follow")
    return unescape(match.group(1))


class EscalationRequests:
    """A fresh escalation for each request (a new external id and account: a new case)."""

    label = "API escalation"

    def __init__(self, token: str) -> None:
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def next(self) -> Request:
        tag = uuid.uuid4().hex[:12]
        detected = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
        body = ('{"source_system": "bench-mixed", "external_id": "MIX-%s", '
                '"category": "violent_extremism", "reason": "classifier", '
                '"detected_at": "%s", "accounts": [{"label": "made_up_%s", "identifiers": '
                '[{"kind": "platform_user_id", "value": "mix-%s"}]}]}') % (tag, detected, tag,
                                                                           tag)
        return Request("POST", "/api/v1/escalations", headers=self.headers,
                       body=body.encode(), label=self.label, accept=(200, 201))


if __name__ == "__main__":
    main()
