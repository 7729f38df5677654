"""Fixtures for evidence: the store's folder, uploads through the page and the API."""

from __future__ import annotations

import dataclasses
import io
import os
import re

import pytest

from referrals.core.storage import get_store
from tests.cases.helpers import bearer, open_case
from tests.conftest import csrf_from

# A pattern that would be easy to find in a file on disk if it were not encrypted.
MARKER = b"SYNTHETIC-EVIDENCE-MARKER-0123456789"


def synthetic_bytes(size: int = 50_000) -> bytes:
    """Random bytes with a known pattern inside; never sniffed as a media type."""
    body = os.urandom(size)
    return b"\x00RND" + body[: size // 2] + MARKER + body[size // 2:]


def synthetic_mp4(size: int = 20_000) -> bytes:
    """Not a playable video: an ISO BMFF 'ftyp' box then random bytes (sniffs as video/mp4)."""
    return b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + os.urandom(size)


@pytest.fixture
def store():
    return get_store()


@pytest.fixture
def blob_files(store):
    """The set of files in the evidence store right now (a function: call it again later)."""
    def files():
        if not store.root.exists():
            return set()
        return {p for p in store.root.rglob("*") if p.is_file()}

    return files


@pytest.fixture
def evidence_limit(app, monkeypatch):
    """``evidence_limit(n)`` lowers the size limit for this test."""
    def lower(limit: int):
        settings = app.config["REFERRALS_SETTINGS"]
        monkeypatch.setitem(app.config, "REFERRALS_SETTINGS",
                            dataclasses.replace(settings, evidence_max_bytes=limit))

    return lower


@pytest.fixture
def upload_form(client):
    """Upload through the case page's form, as a browser would."""
    def upload(case, data: bytes, name: str, *, description: str = "", may_be_csam=False,
               data_category: str | None = None):
        page = client.get(f"/cases/{case.reference}")
        assert page.status_code == 200
        assert 'id="upload"' in page.text
        fields = {"csrf_token": csrf_from(page.text), "file": (io.BytesIO(data), name),
                  "description": description}
        if may_be_csam:
            fields["may_be_csam"] = "y"
        if data_category is not None:
            fields["data_category"] = data_category
        return client.post(f"/cases/{case.reference}/evidence", data=fields,
                           content_type="multipart/form-data")

    return upload


def item_id_from(response) -> int:
    match = re.search(r"/evidence/(\d+)$", response.headers.get("Location", ""))
    assert match, (response.status_code, response.headers.get("Location"))
    return int(match.group(1))


@pytest.fixture
def upload_api(client):
    def upload(case, data: bytes, token: str, filename="upload.bin", **query):
        return client.post(f"/api/v1/cases/{case.reference}/evidence",
                           query_string={"filename": filename, **query}, data=data,
                           content_type="application/octet-stream", headers=bearer(token))

    return upload


@pytest.fixture
def case_of(make_user):
    """``case_of(category)``: a case opened by a made-up agent."""
    opener = make_user("agent")

    def make(category="other", **kwargs):
        return open_case(opener, category=category, **kwargs)

    return make


@pytest.fixture
def integration_user(make_user):
    return make_user(None, enrolled=False)


@pytest.fixture(autouse=True)
def _fresh_sign_in_limit():
    """These tests sign in often. The sign-in rate limit counts per client address in
    memory for the whole run, so their sign-ins must not use up later tests' allowance."""
    from referrals.extensions import limiter

    limiter.reset()
    yield
    limiter.reset()
