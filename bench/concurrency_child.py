"""The pages under concurrent connections, through the production server, in a process of
its own (issue 17).

``python -m bench.concurrency_child --cases N --connections C --requests R`` with
REFERRALS_INSTANCE_PATH and DATABASE_URL naming an empty database: migrate and seed it
(``flask demo seed --cases N``), start gunicorn with the production configuration
(``deploy/gunicorn.conf.py``; REFERRALS_WEB_WORKERS / REFERRALS_WEB_THREADS as an operator
sets them) on a free port, sign the demo supervisor in through the real pages over HTTP, then
for each page send R requests over C connections at once (each connection one after another)
and over one connection alone.

Pages: the static stylesheet (the server's floor: no database), the open-case queue, and a
case page (its view is audited: one write per request). Prints one JSON line: per page and
per concurrency, the latencies' p50/p99 (ms) and the throughput (requests per second).
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import time
from html import unescape

import httpx

from bench.children import ROOT, emit
from bench.http_load import Client, Request, load, start_production_server, stop_server, \
    wait_until_up
from bench.queue_child import SUPERVISOR, sign_in_as
from bench.report import progress

CASE_LINK = re.compile(r'href="(/cases/CASE-\d{4}-\d{6})"')


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency_child")
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400)
    options = parser.parse_args()

    seed(options.cases)
    port = free_port()
    server, settings = start_production_server(port)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base)
        cookies = sign_in(base)
        queue = Request("GET", "/cases/?view=open", cookies=cookies)
        pages = [("static file (floor)", Request("GET", "/static/app.css", cookies=cookies)),
                 ("queue", queue),
                 ("case page", Request("GET", first_case(base, queue), cookies=cookies))]
        results = []
        for name, request in pages:
            for connections in (1, options.connections):
                requests = options.requests if connections > 1 else max(50, options.requests // 4)
                measured = load(base, [request], connections, requests,
                                server=server.pid)[request.label]
                measured.update(page=name, path=request.path, connections=connections)
                results.append(measured)
                progress(f"{name}, {connections} connection(s): {measured['rps']:.0f} req/s, "
                         f"p50 {measured['p50_ms']:.0f} ms, p99 {measured['p99_ms']:.0f} ms, "
                         f"{measured['errors']} errors")
    finally:
        stop_server(server)
    emit({"cases": options.cases, **settings, "connections": options.connections,
          "pages": results})


def seed(cases: int) -> None:
    started = time.perf_counter()
    for args in (["db", "upgrade"], ["demo", "seed", "--cases", str(cases)]):
        subprocess.run([sys.executable, "-m", "flask", "--app", "referrals", *args], cwd=ROOT,
                       stdout=sys.stderr, stderr=subprocess.DEVNULL, check=True)
    progress(f"migrated and seeded {cases:,} cases in {time.perf_counter() - started:.0f} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sign_in(base: str, email: str = SUPERVISOR) -> str:
    """A demo account, through the real sign-in pages over HTTP; its session as a Cookie
    header."""
    with httpx.Client(base_url=base, timeout=30) as client:
        sign_in_as(email, lambda path: client.get(path).text,
                   lambda path, data: client.post(path, data=data).status_code)
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def first_case(base: str, queue: Request) -> str:
    with Client(base) as client:
        status, body = client.send(queue)
    match = CASE_LINK.search(body.decode())
    if status != 200 or not match:
        raise SystemExit(f"the queue answered {status} with no case link")
    return unescape(match.group(1))


if __name__ == "__main__":
    main()
