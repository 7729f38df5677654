"""The real .gov registry file (shared/data/dotgov, CC0), and copies of it changed by a test."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from referrals.core.identity import system_identity
from referrals.directory.registry import import_registry
from referrals.extensions import db

# shared/ sits beside the repository (CI's clone, /work/main) or one level up (a worktree).
REGISTRY_FILE = next(
    (candidate for parent in Path(__file__).resolve().parents[3:5]
     if (candidate := parent / "shared" / "data" / "dotgov" / "current-full.csv").exists()),
    Path(__file__).resolve().parents[3] / "shared" / "data" / "dotgov" / "current-full.csv")

OPERATOR = system_identity("test: registry import")


@pytest.fixture(scope="session")
def registry_text() -> str:
    return REGISTRY_FILE.read_text(encoding="utf-8-sig")


@pytest.fixture(scope="session")
def registry_rows(registry_text) -> list[list[str]]:
    return list(csv.reader(io.StringIO(registry_text)))


def as_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@pytest.fixture
def loaded_registry(app, registry_text):
    """The whole real file, loaded (rolled back after the test like everything else)."""
    report = import_registry(OPERATOR, registry_text)
    db.session.flush()
    return report
