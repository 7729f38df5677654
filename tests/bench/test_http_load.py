"""The load generator of bench parts G and K, against a small HTTP server in this process:
every request counted under its label, a refused status counted as an error, the CPU time
of a process read from /proc."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.http_load import Request, cpu_seconds, load
from bench.mixed import mixed_checks


class Answers(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn's gthread workers answer

    def do_GET(self):
        status = 404 if self.path == "/missing" else 200
        body = b"made-up page"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_every_request_is_counted_under_its_label_and_a_refusal_is_an_error(server):
    found, missing = Request("GET", "/page").named("page"), Request("GET", "/missing")
    measured = load(server, [found, missing], connections=3, total=40, server=os.getpid())
    assert measured["page"]["requests"] == measured["/missing"]["requests"] == 20
    assert (measured["page"]["errors"], measured["/missing"]["errors"]) == (0, 20)
    assert measured["all"]["requests"] == 40 and measured["all"]["errors"] == 20
    assert measured["all"]["p50_ms"] <= measured["all"]["p99_ms"]
    assert measured["all"]["server_cpu_ms"] >= 0 and measured["all"]["client_cpu_ms"] > 0


def test_cpu_seconds_grow_with_work_and_are_zero_without_a_process():
    before = cpu_seconds(os.getpid())
    sum(i * i for i in range(3_000_000))
    assert cpu_seconds(os.getpid()) > before
    assert cpu_seconds(None) == 0.0


def _result(kind: str, rps: float, p99: float, errors: int = 0, mixed: bool = True) -> dict:
    return {"kind": kind, "mixed": mixed, "requests": 100, "rps": rps, "p50_ms": p99 / 2,
            "p99_ms": p99, "errors": errors, "server_cpu_ms": 1.0, "client_cpu_ms": 0.2}


def test_the_mixed_goals_read_the_slowest_kind_the_errors_and_the_floor():
    result = {"connections": 8, "results": [
        _result("static file (floor)", 600, 20, mixed=False),
        _result("queue alone", 100, 90, mixed=False),
        _result("queue", 30, 120), _result("case page", 30, 310, errors=1),
        _result("all of the mix", 60, 310, errors=1)]}
    p99, errors, floor = mixed_checks({"sqlite": result})
    assert not p99.passed and "case page 310 ms" in p99.measured
    assert not errors.passed and errors.measured.startswith("1 of 200")
    assert not floor.passed and "6.0x" in floor.measured
    result["results"][1] = _result("queue alone", 120, 90, mixed=False)
    assert mixed_checks({"sqlite": result})[2].passed
