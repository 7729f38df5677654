"""Evidence in: hashes, sniffed types, encryption at rest, one blob per content, limits,
safe names; and every handling recorded in the chain of custody."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from sqlalchemy import func, select

from referrals.core.errors import InvalidInput, PermissionDenied
from referrals.core.identity import Identity
from referrals.demo.cases import synthetic_png
from referrals.evidence import services
from referrals.evidence.models import CustodyEvent, EvidenceItem, StoredBlob
from referrals.extensions import db
from tests.cases.helpers import (audit_after, audit_events, bearer, make_token, reload_case,
                                 timeline)
from tests.conftest import csrf_from
from tests.evidence.conftest import MARKER, item_id_from, synthetic_bytes


def _items(case=None) -> list[EvidenceItem]:
    query = select(EvidenceItem).order_by(EvidenceItem.id)
    if case is not None:
        query = query.where(EvidenceItem.case_id == case.id)
    db.session.expire_all()
    return list(db.session.scalars(query))


def _blobs() -> int:
    return db.session.scalar(select(func.count(StoredBlob.id)))


def _custody(item_id: int) -> list[tuple[str, str]]:
    db.session.expire_all()
    return [(e.action, e.actor_label) for e in db.session.scalars(
        select(CustodyEvent).where(CustodyEvent.evidence_id == item_id).order_by(CustodyEvent.id))]


def _flashes(client, case) -> str:
    return client.get(f"/cases/{case.reference}").text


# --- through the case page --------------------------------------------------------------


def test_an_upload_through_the_page_is_hashed_and_recorded(client, as_role, case_of,
                                                          upload_form, blob_files):
    agent = as_role("agent")
    case = case_of("other")
    data = synthetic_bytes(300_000)
    before = blob_files()

    response = upload_form(case, data, "capture.bin", description="Synthetic capture")

    assert response.status_code == 302
    [item] = _items(case)
    assert item_id_from(response) == item.id
    assert item.md5 == hashlib.md5(data).hexdigest()
    assert item.sha1 == hashlib.sha1(data).hexdigest()
    assert item.sha256 == hashlib.sha256(data).hexdigest()
    assert (item.size, item.mime_type, item.original_name) == (len(data), "application/octet-stream",
                                                               "capture.bin")
    assert item.captured_by_id == agent.id and item.description == "Synthetic capture"
    assert item.may_be_csam is False
    assert _custody(item.id) == [("collected", agent.email)]
    [event] = audit_events("evidence.collected", item.id)
    assert audit_after(event)["sha256"] == item.sha256
    assert any(e.kind == "evidence" and "capture.bin" in e.body
               for e in timeline(reload_case(case.reference)))
    assert len(blob_files() - before) == 1
    page = client.get(f"/cases/{case.reference}/evidence/{item.id}")
    assert page.status_code == 200 and item.sha256 in page.text and item.md5 in page.text


def test_the_file_at_rest_is_encrypted_and_anonymously_named(as_role, case_of, upload_form,
                                                            blob_files):
    as_role("agent")
    case = case_of()
    data = synthetic_bytes(200_000)
    before = blob_files()
    upload_form(case, data, "made-up-name-7f3a.bin")
    [path] = blob_files() - before
    [item] = _items(case)

    raw = path.read_bytes()
    assert MARKER not in raw and data[:4096] not in raw
    for secret in ("made-up-name", item.sha256, item.md5, item.sha1):
        assert secret not in str(path)
    assert re.fullmatch(r"[0-9a-f]{32}\.blob", path.name)
    assert path.name == f"{item.blob.storage_name}.blob"


def test_the_type_is_sniffed_from_the_bytes(as_role, case_of, upload_form):
    as_role("agent")
    case = case_of()
    upload_form(case, synthetic_png(seed=3), "notes.txt")
    upload_form(case, b"Plain synthetic text, nothing more.\n", "image.png")
    upload_form(case, b"%PDF-1.4\n" + b"0" * 500, "letter.jpg")
    by_name = {i.original_name: i.mime_type for i in _items(case)}
    assert by_name == {"notes.txt": "image/png", "image.png": "text/plain",
                       "letter.jpg": "application/pdf"}


def test_the_same_bytes_twice_are_stored_once(as_role, case_of, upload_form, blob_files):
    as_role("agent")
    first_case, second_case = case_of(), case_of()
    data = synthetic_bytes(30_000)
    before = blob_files()

    upload_form(first_case, data, "first.bin")
    upload_form(second_case, data, "second.bin")
    upload_form(first_case, data, "again.bin")

    items = _items()
    assert len(items) == 3 and _blobs() == 1
    assert len({i.blob_id for i in items}) == 1
    assert len(blob_files() - before) == 1
    assert [i.original_name for i in items] == ["first.bin", "second.bin", "again.bin"]


def test_a_file_over_the_limit_is_refused_and_nothing_is_stored(client, as_role, case_of,
                                                              upload_form, blob_files,
                                                              evidence_limit):
    as_role("agent")
    case = case_of()
    evidence_limit(1000)
    before = blob_files()

    response = upload_form(case, synthetic_bytes(2000), "big.bin")

    assert response.status_code == 302
    assert "The file is larger than the limit of 1,000 bytes." in _flashes(client, case)
    assert _items() == [] and _blobs() == 0 and blob_files() == before
    assert audit_events("evidence.collected") == []
    # Exactly at the limit is fine.
    upload_form(case, b"\x00" * 1000, "exact.bin")
    assert [i.size for i in _items()] == [1000]


def test_an_empty_file_is_refused(client, as_role, case_of, upload_form, blob_files):
    as_role("agent")
    case = case_of()
    before = blob_files()
    upload_form(case, b"", "empty.bin")
    assert "The file is empty." in _flashes(client, case)
    assert _items() == [] and _blobs() == 0 and blob_files() == before


def test_a_form_without_a_file_is_refused(client, as_role, case_of):
    as_role("agent")
    case = case_of()
    page = client.get(f"/cases/{case.reference}")
    client.post(f"/cases/{case.reference}/evidence", data={"csrf_token": csrf_from(page.text)},
                content_type="multipart/form-data")
    assert "Choose a file." in _flashes(client, case)
    assert _items() == []


NAMES = [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\config", "config"),
    ("/absolute/path/report.pdf", "report.pdf"),
    ("evil\r\nSet-Cookie: x=1\x00.txt", "evilSet-Cookie_ x_1.txt"),
    ("bell\x07tab\tdel\x7f.bin", "belltabdel.bin"),
    (".hidden", "hidden"),
    ("..", "evidence.bin"),
    ('quote"name<script>.png', "quote_name_script_.png"),
    ("фото отпуск.png", "фото отпуск.png"),
    ("a" * 300 + ".bin", "a" * 200),
]


@pytest.mark.parametrize("given, stored", NAMES, ids=[f"name{i}" for i in range(len(NAMES))])
def test_file_names_are_made_safe(given, stored):
    assert services.safe_file_name(given) == stored


def test_a_hostile_name_never_becomes_a_path(client, as_role, case_of, upload_form, upload_api,
                                             blob_files, settings, make_user):
    as_role("agent")
    case = case_of()
    before = blob_files()
    upload_form(case, synthetic_bytes(1000), "../../../evidence-escape\x01.txt")
    # CR/LF cannot travel in a multipart header; a query parameter carries them.
    token = make_token(make_user("agent"), "evidence:write")
    assert upload_api(case, synthetic_bytes(1000), token,
                      filename="../../etc/passwd\r\nX-Evil: 1").status_code == 201
    names = [i.original_name for i in _items(case)]
    assert names == ["evidence-escape.txt", "passwdX-Evil_ 1"]
    new_files = blob_files() - before
    assert len(new_files) == 2
    for path in new_files:
        assert path.resolve().is_relative_to((settings.instance_path / "evidence").resolve())
        assert re.fullmatch(r"[0-9a-f]{32}\.blob", path.name)
    assert not list(settings.instance_path.parent.rglob("evidence-escape*"))
    assert not list(settings.instance_path.parent.rglob("passwd*"))
    for item in _items(case):
        response = client.get(f"/cases/{case.reference}/evidence/{item.id}/content?download=1")
        disposition = response.headers["Content-Disposition"]
        assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition
        assert disposition.startswith(f'attachment; filename="{item.original_name}"')


def test_a_unicode_name_is_offered_in_both_forms(client, as_role, case_of, upload_api, make_user):
    as_role("agent")
    case = case_of()
    token = make_token(make_user("agent"), "evidence:write")
    upload_api(case, synthetic_bytes(500), token, filename='фото "отпуск".bin')
    [item] = _items(case)
    assert item.original_name == "фото _отпуск_.bin"
    response = client.get(f"/cases/{case.reference}/evidence/{item.id}/content?download=1")
    disposition = response.headers["Content-Disposition"]
    assert disposition.isascii()
    assert disposition == ("attachment; filename=\"____ ________.bin\"; filename*=UTF-8''"
                           "%D1%84%D0%BE%D1%82%D0%BE%20_%D0%BE%D1%82%D0%BF%D1%83%D1%81%D0%BA_.bin")


# --- viewing and downloading ------------------------------------------------------------


def test_views_and_downloads_are_custody_events(client, as_role, case_of, upload_form, make_user):
    agent = as_role("agent")
    case = case_of()
    data = synthetic_png(seed=9)
    item_id = item_id_from(upload_form(case, data, "frame.png"))

    shown = client.get(f"/cases/{case.reference}/evidence/{item_id}/content")
    assert shown.status_code == 200 and shown.data == data
    assert shown.mimetype == "image/png"
    assert shown.headers["Content-Disposition"].startswith("inline;")
    assert shown.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert shown.headers["Cache-Control"] == "no-store"
    assert shown.headers["X-Content-Type-Options"] == "nosniff"

    downloaded = client.get(f"/cases/{case.reference}/evidence/{item_id}/content",
                            query_string={"download": "1", "purpose": "Prepare NCMEC report"})
    assert downloaded.status_code == 200 and downloaded.data == data
    assert downloaded.headers["Content-Disposition"].startswith("attachment;")
    assert int(downloaded.headers["Content-Length"]) == len(data)

    reader = make_user("agent")
    token = make_token(reader, "evidence:read")
    via_api = client.get(f"/api/v1/cases/{case.reference}/evidence/{item_id}/content",
                         headers=bearer(token))
    assert via_api.status_code == 200 and via_api.data == data
    assert via_api.mimetype == "application/octet-stream"

    custody = _custody(item_id)
    assert [action for action, _ in custody] == ["collected", "viewed", "downloaded", "downloaded"]
    assert custody[1][1] == custody[2][1] == agent.email
    assert custody[3][1].startswith(f"{reader.email} (token rfr_")
    purposes = [e.purpose for e in db.session.scalars(
        select(CustodyEvent).where(CustodyEvent.evidence_id == item_id).order_by(CustodyEvent.id))]
    assert purposes[2] == "Prepare NCMEC report"
    assert len(audit_events("evidence.viewed", item_id)) == 1
    assert len(audit_events("evidence.downloaded", item_id)) == 2
    page = client.get(f"/cases/{case.reference}/evidence/{item_id}")
    assert page.text.count("<tr><td") >= 4 and "Prepare NCMEC report" in page.text


def test_files_that_are_not_media_are_never_rendered_inline(client, as_role, case_of, upload_form):
    as_role("agent")
    case = case_of()
    html = b"<html><script>alert('synthetic')</script></html>"
    item_id = item_id_from(upload_form(case, html, "page.html"))
    response = client.get(f"/cases/{case.reference}/evidence/{item_id}/content")
    assert response.status_code == 200
    assert response.mimetype == "application/octet-stream"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    page = client.get(f"/cases/{case.reference}/evidence/{item_id}").text
    assert "This file is not shown in the browser." in page and "<img" not in page


def test_an_item_is_reached_only_through_its_own_case(client, as_role, case_of, upload_form):
    as_role("agent")
    mine, other = case_of(), case_of()
    item_id = item_id_from(upload_form(mine, synthetic_bytes(500), "x.bin"))
    for url in (f"/cases/{other.reference}/evidence/{item_id}",
                f"/cases/{other.reference}/evidence/{item_id}/content",
                f"/cases/{mine.reference}/evidence/{item_id + 999}",
                f"/cases/CASE-1999-000001/evidence/{item_id}/content"):
        assert client.get(url).status_code == 404, url
    assert [a for a, _ in _custody(item_id)] == ["collected"]


def test_a_missing_stored_file_is_a_plain_404(client, as_role, case_of, upload_form, store):
    as_role("agent")
    case = case_of()
    item_id = item_id_from(upload_form(case, synthetic_bytes(800), "gone.bin"))
    item = db.session.get(EvidenceItem, item_id)
    store.delete(item.blob.storage_name)
    response = client.get(f"/cases/{case.reference}/evidence/{item_id}/content")
    assert response.status_code == 404
    assert "stored file is missing" in response.text
    assert [a for a, _ in _custody(item_id)] == ["collected"]


def test_compliance_reads_evidence_but_cannot_add_it(client, as_role, case_of, make_user):
    as_role("compliance")
    case = case_of()
    data = synthetic_bytes(700)
    uploader = Identity.for_user(make_user("agent"))
    item = services.add_evidence(uploader, case, io.BytesIO(data), original_name="ok.bin")
    page = client.get(f"/cases/{case.reference}")
    assert 'id="upload"' not in page.text
    refused = client.post(f"/cases/{case.reference}/evidence", content_type="multipart/form-data",
                          data={"csrf_token": csrf_from(page.text),
                                "file": (io.BytesIO(b"x"), "x.bin")})
    assert refused.status_code == 403
    assert client.get(f"/cases/{case.reference}/evidence/{item.id}/content").data == data
    assert len(_items()) == 1


def test_admins_and_officers_get_no_evidence(client, make_user, sign_in, case_of):
    case = case_of()
    uploader = Identity.for_user(make_user("agent"))
    item = services.add_evidence(uploader, case, io.BytesIO(b"\x00abc"), original_name="a.bin")
    admin = make_user("admin", cleared_for_csam=True)
    sign_in(admin)
    for url in (f"/cases/{case.reference}/evidence/{item.id}",
                f"/cases/{case.reference}/evidence/{item.id}/content"):
        assert client.get(url).status_code == 403
    with pytest.raises(PermissionDenied):
        services.open_content(Identity.for_user(admin), item, action="viewed", purpose="x")


def test_the_service_refuses_staff_who_may_not_add(make_user, case_of):
    case = case_of()
    for role in ("compliance", "admin", "officer"):
        with pytest.raises(PermissionDenied):
            services.add_evidence(Identity.for_user(make_user(role)), case, io.BytesIO(b"x"),
                                  original_name="x.bin")
    assert _items() == []


# --- through the API --------------------------------------------------------------------


def test_an_upload_through_the_api(client, make_user, case_of, upload_api, blob_files):
    uploader = make_user("agent")
    token = make_token(uploader, "evidence:write")
    case = case_of()
    data = synthetic_bytes(1_500_000)  # more than one 1 MiB chunk
    before = blob_files()

    response = upload_api(case, data, token, filename="dump.bin", platform_content_id="c-55",
                          url="https://platform.example/c/55", description="From the pipeline")

    assert response.status_code == 201, response.text
    body = response.json
    assert body["md5"] == hashlib.md5(data).hexdigest()
    assert body["sha1"] == hashlib.sha1(data).hexdigest()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (body["size"], body["original_name"], body["mime_type"]) == (
        len(data), "dump.bin", "application/octet-stream")
    [item] = _items(case)
    assert item.id == body["id"] and item.source_system == "api"
    assert item.platform_content_id == "c-55" and item.captured_by_id == uploader.id
    assert _custody(item.id)[0][0] == "collected"
    assert audit_events("evidence.collected", item.id)
    [path] = blob_files() - before
    assert MARKER not in path.read_bytes()
    png = upload_api(case, synthetic_png(seed=4), token, filename="notes.txt")
    assert png.json["mime_type"] == "image/png"


def test_api_upload_refusals(client, make_user, case_of, upload_api, integration_user,
                             evidence_limit, blob_files):
    case = case_of()
    agent = make_user("agent")
    writer = make_token(agent, "evidence:write")
    reader = make_token(agent, "evidence:read")
    former_agent = make_user("agent")
    roleless = make_token(former_agent, "evidence:write")
    former_agent.roles = []  # roles change after the token was made
    db.session.flush()
    before = blob_files()

    assert upload_api(case, b"\x00x", reader).status_code == 403
    assert upload_api(case, b"\x00x", roleless).status_code == 403
    missing = client.post(f"/api/v1/cases/{case.reference}/evidence", data=b"\x00x",
                          headers=bearer(writer))
    assert missing.status_code == 422 and "filename" in str(missing.json["errors"])
    unknown = client.post("/api/v1/cases/CASE-1999-000001/evidence?filename=a.bin",
                          data=b"\x00x", headers=bearer(writer))
    assert unknown.status_code == 404 and unknown.is_json
    empty = upload_api(case, b"", writer)
    assert empty.status_code == 422 and empty.json["message"] == "The file is empty."
    assert upload_api(case, b"\x00x", "rfr_not-a-token").status_code == 401

    evidence_limit(1000)
    too_big = upload_api(case, synthetic_bytes(5000), writer)
    assert too_big.status_code in (413, 422) and too_big.is_json, too_big.status_code
    assert upload_api(case, b"\x01" * 1000, writer).status_code == 201
    assert [i.size for i in _items()] == [1000]
    assert len(blob_files() - before) == 1


def test_an_api_upload_without_a_length_is_still_limited(client, make_user, case_of,
                                                        evidence_limit, blob_files):
    """A chunked body (no Content-Length) is counted as it streams."""
    case = case_of()
    writer = make_token(make_user("agent"), "evidence:write")
    evidence_limit(1000)
    before = blob_files()

    def body():
        for _ in range(10):
            yield b"\x00" * 500

    response = client.post(f"/api/v1/cases/{case.reference}/evidence?filename=s.bin",
                           input_stream=io.BytesIO(b"".join(body())),
                           headers={**bearer(writer), "Transfer-Encoding": "chunked",
                                    "Content-Type": "application/octet-stream"})
    assert response.status_code in (413, 422), response.status_code
    assert _items() == [] and blob_files() == before


def test_api_download_refusals(client, make_user, case_of):
    case = case_of()
    agent = make_user("agent")
    item = services.add_evidence(Identity.for_user(agent), case, io.BytesIO(b"\x00secret"),
                                 original_name="s.bin")
    url = f"/api/v1/cases/{case.reference}/evidence/{item.id}/content"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer(make_token(agent, "evidence:write"))).status_code == 403
    former_agent = make_user("agent")
    roleless = make_token(former_agent, "evidence:read")
    former_agent.roles = []
    db.session.flush()
    refused = client.get(url, headers=bearer(roleless))
    assert refused.status_code == 403 and b"secret" not in refused.data
    other = case_of()
    wrong_case = client.get(f"/api/v1/cases/{other.reference}/evidence/{item.id}/content",
                            headers=bearer(make_token(agent, "evidence:read")))
    assert wrong_case.status_code == 404
    assert [a for a, _ in _custody(item.id)] == ["collected"]


def test_the_service_refuses_an_empty_stream(make_user, case_of):
    with pytest.raises(InvalidInput, match="empty"):
        services.add_evidence(Identity.for_user(make_user("agent")), case_of(), io.BytesIO(b""),
                              original_name="e.bin")


def test_uploading_the_same_bytes_again_repairs_a_lost_stored_file(client, as_role, case_of,
                                                                   upload_form, store, blob_files):
    """Regression: the new upload's file was deleted in favour of the missing one."""
    as_role("agent")
    case = case_of()
    data = synthetic_bytes(4000)
    first_id = item_id_from(upload_form(case, data, "first.bin"))
    lost = db.session.get(EvidenceItem, first_id).blob.storage_name
    store.delete(lost)
    assert client.get(f"/cases/{case.reference}/evidence/{first_id}/content").status_code == 404

    second_id = item_id_from(upload_form(case, data, "second.bin"))

    db.session.expire_all()
    assert _blobs() == 1
    blob = db.session.get(EvidenceItem, second_id).blob
    assert blob.storage_name != lost and store.exists(blob.storage_name)
    for item_id in (first_id, second_id):
        response = client.get(f"/cases/{case.reference}/evidence/{item_id}/content")
        assert response.status_code == 200 and response.data == data
