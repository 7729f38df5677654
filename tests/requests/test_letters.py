"""Letters answering a request: more information needed, rejected with its defects,
redirected to an MLAT. Rendered as PDFs an officer reads; refused for other statuses."""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.core.errors import DomainError
from referrals.extensions import db
from referrals.requests import services
from referrals.requests.letters import letter_values
from tests.pdfa import assert_pdfa_3b
from tests.requests.helpers import as_identity, submit


@pytest.fixture
def request_a(officer_a):
    return submit(officer_a, targets=[{"kind": "username", "value": "made_up_one"}])


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
                    .split())


@pytest.mark.parametrize("status, start, title, heading", [
    ("rejected", "received", "Request rejected", "DEFECTS OF THE REQUEST"),
    ("needs_info", "verifying", "More information needed", "WHAT WE NEED"),
    ("redirected_mlat", "legal_review", "Redirected to a Mutual Legal Assistance request", "WHY"),
])
def test_each_letter_names_the_request_and_lists_the_reasons(
        status, start, title, heading, request_a, agent, new_client, tmp_path):
    request_a.status = start
    db.session.flush()
    reason = "The order is unsigned.\n- The account named does not exist on the platform."
    services.move_request(as_identity(agent), request_a, status, reason)

    response = new_client(agent).get(f"/requests/{request_a.reference}/letter.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    (tmp_path / f"{status}.pdf").write_bytes(response.data)
    text = _text(response.data)
    assert title in text and request_a.reference in text and heading in text.upper()
    assert "The order is unsigned." in text
    assert "The account named does not exist on the platform." in text
    assert request_a.officer_name in text and "Page 1 of 1" in text
    if status == "redirected_mlat":
        assert "Mutual Legal Assistance Treaty" in text
    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "request.letter_issued"))
    assert event.object_id == request_a.reference
    reader = assert_pdfa_3b(response.data, attachments=("request-letter.json",))
    [manifest] = reader.attachments["request-letter.json"]
    manifest = json.loads(manifest)
    assert manifest["reference"] == request_a.reference and manifest["kind"] == status
    assert "The order is unsigned." in manifest["points"]


def test_no_letter_answers_a_request_in_another_status(request_a, agent, new_client):
    with pytest.raises(DomainError, match="needs more information, is rejected"):
        letter_values(request_a)
    response = new_client(agent).get(f"/requests/{request_a.reference}/letter.pdf")
    assert response.status_code == 409
    assert "needs more information, is rejected" in response.text
