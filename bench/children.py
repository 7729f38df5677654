"""Each measurement runs in a child process of its own, so that its peak memory, its
engine and its Flask-Security state are its own. A child prints progress on stderr
(progress lines pass straight through) and its result as one JSON line, the last on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.report import PROGRESS

ROOT = Path(__file__).resolve().parent.parent


class BenchError(RuntimeError):
    """A benchmark could not run (as opposed to running and missing its goal)."""


def run_child(module: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run ``python -m module args``; show its progress lines as they come, keep the rest
    of its stderr (migration logs, warnings) to show only if it fails."""
    command = [sys.executable, "-m", module, *args]
    kept = []
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as child:
        for line in child.stderr:
            if line.startswith(PROGRESS):
                sys.stderr.write(line)
                sys.stderr.flush()
            else:
                kept.append(line)
        output = child.stdout.read()
    lines = [line for line in output.splitlines() if line.strip()]
    if child.returncode != 0 or not lines:
        sys.stderr.write("".join(kept[-60:]))
        raise BenchError(f"{' '.join(command[1:])} failed (exit {child.returncode})")
    return json.loads(lines[-1])


def emit(result: dict) -> None:
    """A child's result: one JSON line on stdout."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def app_environment(instance_path: Path, database_url: str) -> dict[str, str]:
    """The environment a child app runs in: its own instance directory and database.

    ``development`` because the demo seed refuses production; plain settings otherwise
    (no TESTING flag, the real CSRF and sign-in pages).
    """
    env = dict(os.environ)
    env.update(REFERRALS_ENV="development", REFERRALS_INSTANCE_PATH=str(instance_path),
               DATABASE_URL=database_url, PYTHONPATH=str(ROOT))
    env.pop("REDIS_URL", None)  # jobs are not measured; keep them off any shared Redis
    return env
