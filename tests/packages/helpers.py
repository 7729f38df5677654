"""A production released through the staff page, built by its job (run at once in tests)."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

from sqlalchemy import select

from referrals.extensions import db
from referrals.packages.models import EvidencePackage
from referrals.requests import services
from referrals.requests.collection import collect_for_request
from tests.requests.helpers import as_identity, move, post_form, submit

CATEGORIES = ["subscriber", "content"]


def ready_for_review(officer, agent, approver):
    """A warrant for two accounts: one decided "produce", one "withhold"; collected."""
    request = submit(officer, request_type="search_warrant", data_categories=CATEGORIES,
                     date_from=date(2025, 3, 1), date_to=date(2025, 5, 31),
                     targets=[{"kind": "username", "value": "@Made_Up_One"},
                              {"kind": "platform_user_id", "value": "u-0002"}])
    move(agent, request, "verifying", "legal_review")
    services.decide_targets(as_identity(agent), request, {
        t.id: (("withhold", "Made-up reason") if t.normalized == "u-0002" else ("produce", ""))
        for t in request.targets})
    services.approve_request(as_identity(approver), request)
    move(agent, request, "collecting")
    collect_for_request(as_identity(agent), request)
    move(agent, request, "ready_for_review")
    return request


def release(client, request, data=None):
    url = f"/requests/{request.reference}"
    return post_form(client, url, f"{url}/disclose", data)


def packages_of(request) -> list[EvidencePackage]:
    db.session.expire_all()
    return list(db.session.scalars(select(EvidencePackage)
                                   .where(EvidencePackage.request_id == request.id)
                                   .order_by(EvidencePackage.id)))


def run(*command, cwd=None, stdin=None):
    return subprocess.run(command, cwd=cwd, capture_output=True, timeout=120, stdin=stdin)


def open_with_age(package_file: Path, key_file: Path, work: Path) -> Path:
    """What the help page says: age -d, then tar xf; the bag's directory."""
    tar = work / "package.tar"
    done = run("age", "-d", "-i", str(key_file), "-o", str(tar), str(package_file))
    assert done.returncode == 0, done.stderr
    out = work / "opened"
    out.mkdir()
    assert run("tar", "xf", str(tar), "-C", str(out)).returncode == 0
    [bag] = list(out.iterdir())
    return bag

