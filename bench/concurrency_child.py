"""The pages under concurrent connections, through the production server, in a process of
its own.

``python -m bench.concurrency_child --cases N --connections C --requests R --workers W`` with
REFERRALS_INSTANCE_PATH and DATABASE_URL naming an empty database: migrate and seed it
(``flask demo seed --cases N``), start gunicorn (W workers) on a free port, sign the demo
supervisor in through the real pages over HTTP, then for each page send R requests over C
connections at once (each connection one after another) and over one connection alone.

Pages: the static stylesheet (the server's floor: no database), the open-case queue, and a
case page (its view is audited: one write per request). Prints one JSON line: per page and
per concurrency, the latencies' p50/p99 (ms) and the throughput (requests per second).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from html import unescape

import httpx

from bench.children import ROOT, emit
from bench.queue_child import sign_in_supervisor
from bench.report import percentile, progress

CASE_LINK = re.compile(r'href="(/cases/CASE-\d{4}-\d{6})"')
WARM_UP = 5


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency_child")
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--workers", type=int, default=4)
    options = parser.parse_args()

    seed(options.cases)
    port = free_port()
    server = start_server(port, options.workers)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base)
        cookies = sign_in(base)
        case = first_case(base, cookies)
        pages = [("static file (floor)", "/static/app.css"), ("queue", "/cases/?view=open"),
                 ("case page", case)]
        results = []
        for name, path in pages:
            for connections in (1, options.connections):
                requests = options.requests if connections > 1 else max(50, options.requests // 4)
                measured = load(base + path, cookies, connections, requests)
                measured.update(page=name, path=path, connections=connections)
                results.append(measured)
                progress(f"{name}, {connections} connection(s): {measured['rps']:.0f} req/s, "
                         f"p50 {measured['p50_ms']:.0f} ms, p99 {measured['p99_ms']:.0f} ms, "
                         f"{measured['errors']} errors")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    emit({"cases": options.cases, "workers": options.workers,
          "connections": options.connections, "pages": results})


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


def start_server(port: int, workers: int) -> subprocess.Popen:
    """gunicorn, as production runs the app: sync workers, one request each at a time."""
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", "referrals:create_app()"],
        cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=sys.stderr)


def wait_until_up(base: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/login", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("gunicorn did not answer")


def sign_in(base: str) -> httpx.Cookies:
    """The demo supervisor, through the real pages over HTTP."""
    with httpx.Client(base_url=base, timeout=30) as client:
        sign_in_supervisor(lambda path: client.get(path).text,
                           lambda path, data: client.post(path, data=data).status_code)
        return httpx.Cookies(client.cookies)


def first_case(base: str, cookies: httpx.Cookies) -> str:
    page = httpx.get(base + "/cases/?view=open", cookies=cookies, timeout=30)
    match = CASE_LINK.search(page.text)
    if page.status_code != 200 or not match:
        raise SystemExit(f"the queue answered {page.status_code} with no case link")
    return unescape(match.group(1))


def load(url: str, cookies: httpx.Cookies, connections: int, requests: int) -> dict:
    """``requests`` in all over ``connections`` at once, each connection sending its next
    request when the last one answered. Returns p50/p99 latency and throughput."""
    timings: list[float] = []
    errors = [0]
    lock = threading.Lock()
    each = [requests // connections + (n < requests % connections) for n in range(connections)]
    start = threading.Barrier(connections + 1)

    def connection(count: int) -> None:
        with httpx.Client(cookies=cookies, timeout=60) as client:
            for _ in range(WARM_UP):
                client.get(url)
            start.wait()
            mine = []
            for _ in range(count):
                began = time.perf_counter()
                answer = client.get(url)
                mine.append((time.perf_counter() - began) * 1000)
                if answer.status_code != 200:
                    with lock:
                        errors[0] += 1
            with lock:
                timings.extend(mine)

    threads = [threading.Thread(target=connection, args=(count,)) for count in each]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return {"requests": len(timings), "seconds": wall, "rps": len(timings) / wall,
            "p50_ms": percentile(timings, 0.5), "p99_ms": percentile(timings, 0.99),
            "errors": errors[0]}


if __name__ == "__main__":
    main()
