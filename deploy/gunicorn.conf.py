"""gunicorn's configuration for Referrals in production (``bin/run-production``, the systemd
unit ``referrals-web.service``, and the multi-server test all start it with this file).

Every value can be set from the environment, so one file serves every machine.
"""

import multiprocessing
import os
import shutil
from pathlib import Path

from prometheus_client import multiprocess

bind = os.environ.get("REFERRALS_BIND", "127.0.0.1:8000")
# Threads, not more processes: a request mostly waits on the database or the disk, and an
# upload streams for as long as its body takes. Two processes per core by default, four
# threads each. Measured on this 2-core machine with 8 connections (the queue and a case page
# at 100,000 cases on SQLite, alternating runs; the machine was shared, so the spread is wide):
# - sync workers: a worker holds one connection at a time and cannot keep it alive, and a
#   request that waits (an upload streaming in for minutes) holds its whole process. On the
#   pages they did no better: queue 38-122 req/s, p99 155-445 ms.
# - 2 processes x 4 threads (one per core, less switching): queue 62-128 req/s, p99 186-474
#   ms; 4 x 4: queue 90-141 req/s, p99 100-562 ms, the better of the two in the runs that
#   alternated them (122-141 against 62-76 req/s, p99 100-118 against 216-324 ms).
# - A queue page costs 10-19 ms of CPU in Python, a case page 15-31 ms, a static file 1-3 ms;
#   two cores serve at most about 2,000 / (CPU ms per request) pages a second, whatever the
#   worker count.
workers = int(os.environ.get("REFERRALS_WEB_WORKERS", 2 * multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("REFERRALS_WEB_THREADS", 4))
# A large evidence upload or package download may take minutes; the proxy in front sets the
# client-facing limits.
timeout = int(os.environ.get("REFERRALS_WEB_TIMEOUT", 300))
graceful_timeout = 30
keepalive = 5
# The app writes its own access line (JSON, with the request id; see README "Health,
# readiness, metrics and logs"); gunicorn's error log goes to stderr with it.
accesslog = None
errorlog = "-"
# Behind a proxy: REFERRALS_TRUSTED_PROXIES tells the app how many X-Forwarded-* hops to
# believe; gunicorn itself believes them only from these addresses.
forwarded_allow_ips = os.environ.get("REFERRALS_FORWARDED_ALLOW_IPS", "127.0.0.1")
wsgi_app = "referrals:create_app()"
# One app per worker process, made after the fork (no database connection is shared).
preload_app = False


def on_starting(server):
    """Prometheus's multiprocess mode: an empty directory shared by this server's workers."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
