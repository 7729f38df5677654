"""Load over HTTP against the production server: start gunicorn as ``bin/run-production``
does, and send requests over several connections at once, timing each.

The load generator runs on the same two cores as the server, so it is kept lean: one
``http.client`` connection per thread (keep-alive when the server allows it), the cookie and
headers prepared once, nothing parsed but the status. What it costs is spent on the static
floor too, so the pages are compared with a floor that carries the same cost.
"""

from __future__ import annotations

import http.client
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.children import ROOT
from bench.report import percentile

GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
DROPPED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclass(frozen=True)
class Request:
    """One request to send; ``label`` names it in the results (default: its path)."""

    method: str
    path: str
    cookies: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    label: str = ""
    accept: tuple[int, ...] = (200,)

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.path)

    def named(self, label: str) -> Request:
        return replace(self, label=label)

    def next(self) -> Request:
        """The request to send this time (a request that must differ each time overrides)."""
        return self


class Client:
    """One keep-alive connection; reconnects when the server closed it between requests."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=60)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc) -> None:
        self.connection.close()

    def send(self, request: Request) -> tuple[int, bytes]:
        headers = dict(request.headers)
        if request.cookies:
            headers["Cookie"] = request.cookies
        for attempt in (1, 2):
            try:
                self.connection.request(request.method, request.path, body=request.body,
                                        headers=headers)
                answer = self.connection.getresponse()
                return answer.status, answer.read()
            except DROPPED:
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def load(base: str, requests: list, connections: int, total: int, *,
         server: int | None = None, warm_up: int = 2) -> dict[str, dict]:
    """``total`` requests over ``connections`` at once, each connection sending its next
    request when the last one answered and going round ``requests`` (connection n starts at
    the n-th, so every kind is in flight at every moment). Returns, per label and for
    ``"all"``: requests, req/s over the whole run's wall time, p50/p99 (ms), errors; and for
    the run (the same in every entry) the CPU time per request of the server (the process
    ``server`` and its workers) and of this load generator, in ms."""
    timings: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    lock = threading.Lock()
    each = [total // connections + (n < total % connections) for n in range(connections)]
    start = threading.Barrier(connections + 1)

    def connection(number: int, count: int) -> None:
        mine: list[tuple[str, float, bool]] = []
        with Client(base) as client:
            for turn in range(warm_up * len(requests)):
                client.send(requests[turn % len(requests)].next())
            start.wait()
            for turn in range(count):
                request = requests[(number + turn) % len(requests)].next()
                began = time.perf_counter()
                try:
                    status, _ = client.send(request)
                except (OSError, http.client.HTTPException):
                    status = 0
                mine.append((request.label, (time.perf_counter() - began) * 1000,
                             status not in request.accept))
        with lock:
            for label, milliseconds, failed in mine:
                timings.setdefault(label, []).append(milliseconds)
                errors[label] = errors.get(label, 0) + failed

    threads = [threading.Thread(target=connection, args=(n, count))
               for n, count in enumerate(each)]
    for thread in threads:
        thread.start()
    start.wait()
    began, server_cpu, own_cpu = time.perf_counter(), cpu_seconds(server), time.process_time()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    server_cpu, own_cpu = cpu_seconds(server) - server_cpu, time.process_time() - own_cpu
    timings["all"] = [t for label in list(timings) for t in timings[label]]
    errors["all"] = sum(errors.values())
    return {label: {"requests": len(samples), "seconds": wall, "rps": len(samples) / wall,
                    "p50_ms": percentile(samples, 0.5), "p99_ms": percentile(samples, 0.99),
                    "errors": errors[label],
                    "server_cpu_ms": server_cpu * 1000 / total if server else None,
                    "client_cpu_ms": own_cpu * 1000 / total}
            for label, samples in timings.items()}


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user and system) used so far by the process ``pid`` and its children that
    are running (gunicorn's master and its workers), from /proc; 0 without a pid."""
    if pid is None:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        # After the name: state, ppid, ..., utime (14th field of the line), stime (15th).
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def server_settings() -> dict:
    """What ``deploy/gunicorn.conf.py`` chooses here (workers, worker class, threads)."""
    settings = runpy.run_path(str(GUNICORN_CONFIG))
    return {"workers": settings["workers"], "worker_class": settings["worker_class"],
            "threads": settings.get("threads", 1)}


def start_production_server(port: int, env: dict[str, str] | None = None
                            ) -> tuple[subprocess.Popen, dict]:
    """gunicorn with the production configuration file, bound to ``port``; the environment's
    REFERRALS_WEB_WORKERS / REFERRALS_WEB_THREADS (as an operator would set them) apply."""
    env = dict(env or os.environ)
    env["REFERRALS_BIND"] = f"127.0.0.1:{port}"
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        settings = server_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr)
    return server, settings


def wait_until_up(base: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with Client(base) as client:
                if client.send(Request("GET", "/login"))[0] == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("gunicorn did not answer")


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
