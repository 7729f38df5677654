"""A released production becomes a package the request's officers (and only they) download,
within its expiry and download limit; the agency is told only when it is ready; custody and
the disclosure record follow it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import timedelta

import pyrage
import pytest
from sqlalchemy import select

from referrals.connector.demo import DemoConnector
from referrals.core.clock import now
from referrals.core.signing import get_signer
from referrals.core.storage import BlobStore
from referrals.evidence.models import CustodyEvent, EvidenceItem
from referrals.extensions import db
from referrals.packages.contents import production_items
from referrals.packages.services import package_dir, package_path
from referrals.packages.verify import verify_package
from referrals.disclosures.models import Disclosure
from referrals.requests.models import RequestMessage
from tests.connector.fixtures import use_connector  # noqa: F401  (fixture)
from tests.packages.helpers import open_with_age, packages_of, ready_for_review, release, run
from tests.holds.officer_scope import same_answer
from tests.requests.helpers import (audit_events, bearer, flashes, follow, post_form,
                                   reload_request)

READY = "The production is ready for you"


@pytest.fixture(autouse=True)
def _demo_platform(use_connector):  # noqa: F811
    use_connector(DemoConnector())


@pytest.fixture(autouse=True)
def _no_files_of_earlier_tests(app):
    """The database is rolled back after each test, the package directory is not: labels
    come again."""
    import shutil

    with app.app_context():
        shutil.rmtree(package_dir(), ignore_errors=True)


@pytest.fixture
def request_ready(officer_a, agent, supervisor):
    return ready_for_review(officer_a, agent, supervisor)


def _agency_messages(request) -> list[str]:
    return list(db.session.scalars(select(RequestMessage.body).where(
        RequestMessage.request_id == request.id, RequestMessage.internal.is_(False))
        .order_by(RequestMessage.id)))


def _released(request, supervisor, new_client, data=None):
    staff = new_client(supervisor)
    response = release(staff, request, data)
    assert response.status_code == 302
    return staff, response


def _outsiders(request) -> list[EvidenceItem]:
    """Items owned by the request that must not leave: a withheld target's, and a category
    the request did not ask for."""
    import io

    from referrals.core.identity import system_identity
    from referrals.evidence.services import add_collected_evidence

    return [add_collected_evidence(system_identity("test"), io.BytesIO(data), request=request,
                                   original_name=f"{category}-{name}.json",
                                   data_category=category, source_system="demo-platform",
                                   purpose="Synthetic outsider")
            for category, name, data in (
                ("subscriber", "platform_user_id-u-0002", b'{"withheld": 1}'),
                ("login_logout", "username-made_up_one", b'{"unasked": 1}'))]


def test_release_without_a_key_builds_a_one_time_package_the_officer_opens_with_age(
        request_ready, supervisor, officer_a, new_client, tmp_path):
    outsiders = _outsiders(request_ready)
    staff = new_client(supervisor)
    page = staff.get(f"/requests/{request_ready.reference}")
    assert 'id="release-no-key"' in page.text and "has no package key on file" in page.text

    response = release(staff, request_ready)
    page = follow(staff, response)
    assert any("package is being built" in text for _, text in flashes(page.text))
    [package] = packages_of(request_ready)
    assert package.status == "ready" and package.recipient_kind == "one_time"
    assert "Ready" in page.text and package.label in page.text

    # Only the produced target's items, in the approved categories.
    produced = production_items(reload_request(request_ready.reference))
    assert package.items == [item.id for item in produced] and produced
    assert not {item.id for item in outsiders} & set(package.items)
    assert any(item.original_name.startswith("subscriber-username-") for item in produced)

    # The disclosure holds the package hash; every item was "packaged"; the agency was told.
    disclosure = db.session.scalar(select(Disclosure).where(
        Disclosure.request_id == request_ready.id))
    assert disclosure.package_sha256 == package.sha256
    packaged = db.session.scalars(select(CustodyEvent.evidence_id).where(
        CustodyEvent.action == "packaged")).all()
    assert sorted(packaged) == sorted(package.items)
    assert any(READY in body for body in _agency_messages(request_ready))
    assert [e.object_id for e in audit_events("package.ready")] == [package.label]

    # The officer: the key once, then the file; age opens it, every check passes.
    officer = new_client(officer_a)
    portal = officer.get(f"/portal/requests/{request_ready.reference}")
    assert f'id="download-{package.id}"' in portal.text and f'id="show-key-{package.id}"' in portal.text
    base = f"/portal/requests/{request_ready.reference}/packages/{package.id}"
    shown = post_form(officer, f"/portal/requests/{request_ready.reference}", f"{base}/key")
    assert shown.status_code == 200
    [secret] = re.findall(r"AGE-SECRET-KEY-1[0-9A-Z]+", shown.text)
    db.session.expire_all()
    assert db.session.get(type(package), package.id).sealed_secret is None
    again = post_form(officer, f"/portal/requests/{request_ready.reference}", f"{base}/key")
    assert any("shown once already" in text for _, text in flashes(follow(officer, again).text))
    assert secret not in str([e.after for e in audit_events()])

    download = officer.get(base)
    assert download.status_code == 200 and download.headers["ETag"].strip('"') == package.sha256
    (tmp_path / package.file_name).write_bytes(download.data)
    (tmp_path / f"{package.file_name}.sha256").write_bytes(officer.get(f"{base}/sha256").data)
    (tmp_path / f"{package.file_name}.sha256.sig").write_bytes(officer.get(f"{base}/sig").data)
    key = tmp_path / "key.txt"
    key.write_text(secret + "\n")
    assert run("sha256sum", "-c", f"{package.file_name}.sha256", cwd=tmp_path).returncode == 0
    bag = open_with_age(tmp_path / package.file_name, key, tmp_path)
    assert run("sha256sum", "-c", "manifest-sha256.txt", cwd=bag).returncode == 0
    [report] = list((bag / "report").iterdir())
    assert report.read_bytes().startswith(b"%PDF")
    checks = [c.name for c in verify_package(tmp_path / package.file_name, key.read_text(),
                                             get_signer())]
    assert checks[-1] == "bag signature"

    # Every item was "disclosed" at the release (the disclosure record), and "delivered" at
    # the officer's first download.
    disclosed = db.session.scalars(select(CustodyEvent.evidence_id).where(
        CustodyEvent.action == "disclosed")).all()
    delivered = db.session.scalars(select(CustodyEvent).where(
        CustodyEvent.action == "delivered")).all()
    assert sorted(disclosed) == sorted(package.items)
    assert sorted(e.evidence_id for e in delivered) == sorted(package.items)
    assert all(e.actor_id == officer_a.id for e in delivered)
    assert sorted(i.evidence_id for i in disclosure.items) == sorted(package.items)
    [row] = packages_of(request_ready)[0].downloads
    assert (row.via, row.user_id, row.bytes) == ("portal", officer_a.id, package.size)
    assert "det.alpha@metro-a.police.example" in staff.get(
        f"/requests/{request_ready.reference}").text.split('id="packages"')[1]


def test_the_agency_is_not_told_ready_before_the_package_is(request_ready, supervisor,
                                                           monkeypatch, new_client):
    from referrals.packages import services

    def broken(*args, **kwargs):
        raise RuntimeError("made-up disk failure")

    monkeypatch.setattr(services, "build_package", broken)
    _released(request_ready, supervisor, new_client)
    [package] = packages_of(request_ready)
    assert package.status == "building"
    assert not any(READY in body for body in _agency_messages(request_ready))
    assert not package_path(package).exists()


def test_a_stored_file_that_no_longer_matches_fails_the_package_plainly(
        request_ready, supervisor, new_client):
    from referrals.core.storage import get_store

    item = production_items(request_ready)[0]
    store = get_store()
    path = store._path(item.blob.storage_name)
    original = path.read_bytes()
    try:
        store_item = db.session.get(EvidenceItem, item.id)
        store_item.sha256 = hashlib.sha256(b"something else").hexdigest()
        db.session.flush()
        staff, response = _released(request_ready, supervisor, new_client)
        [package] = packages_of(request_ready)
        assert package.status == "failed"
        assert "no longer matches what was taken in" in package.failure
        page = follow(staff, response)
        assert "no longer matches what was taken in" in page.text
        assert not any(READY in body for body in _agency_messages(request_ready))
    finally:
        path.write_bytes(original)


def test_a_release_with_nothing_to_produce_is_refused(officer_a, agent, supervisor, new_client):
    request = ready_for_review(officer_a, agent, supervisor)
    for item in db.session.scalars(select(EvidenceItem).where(
            EvidenceItem.request_id == request.id)):
        item.destroyed_at = now()
    db.session.flush()
    staff, response = _released(request, supervisor, new_client)
    assert any("collect the data before releasing" in text
               for _, text in flashes(follow(staff, response).text))
    assert packages_of(request) == []
    assert reload_request(request.reference).status == "ready_for_review"


def test_an_agency_key_is_used_and_said_before_release(request_ready, agency_a, supervisor,
                                                      new_client, tmp_path):
    from referrals.agencies.services import add_key
    from referrals.core.identity import system_identity

    identity = pyrage.x25519.Identity.generate()
    add_key(system_identity("test"), agency_a, str(identity.to_public()), "records unit")
    staff = new_client(supervisor)
    page = staff.get(f"/requests/{request_ready.reference}")
    assert 'id="release-keys"' in page.text and "release-no-key" not in page.text
    release(staff, request_ready)
    [package] = packages_of(request_ready)
    assert package.recipient_kind == "agency" and package.recipients == [str(identity.to_public())]
    assert package.sealed_secret is None
    with open(package_path(package), "rb") as encrypted:
        plain = tmp_path / "p.tar"
        with open(plain, "wb") as out:
            pyrage.decrypt_io(encrypted, out, [identity])
    assert plain.stat().st_size > 0


# --- refusals -------------------------------------------------------------------------------


@pytest.fixture
def releaser(supervisor, new_client):
    return new_client(supervisor)


@pytest.fixture
def released(request_ready, releaser):
    assert release(releaser, request_ready).status_code == 302
    [package] = packages_of(request_ready)
    assert package.status == "ready"
    return request_ready, package


def test_another_officer_of_the_agency_gets_exactly_not_found(released, agency_a, new_client):
    from tests import factories

    request, package = released
    colleague = new_client(factories.make_user("officer", agency=agency_a))
    colleague.get("/portal/")  # the sign-in's flash is shown once
    theirs = colleague.get(f"/portal/requests/{request.reference}/packages/{package.id}")
    nothing = colleague.get(f"/portal/requests/{request.reference}/packages/999999")
    assert theirs.status_code == nothing.status_code == 404
    # The whole path segment: a bare "/20" also matches "/2026" wherever a date is in the page.
    assert same_answer(theirs.text, f"/packages/{package.id}", nothing.text, "/packages/999999")
    assert colleague.get(f"/portal/requests/{request.reference}/packages/{package.id}/sha256"
                         ).status_code == 404


def test_an_officer_added_to_the_request_may_download(released, agency_a, officer_a, new_client):
    from referrals.requests.services import add_colleague
    from tests import factories
    from tests.requests.helpers import as_identity

    request, package = released
    colleague = factories.make_user("officer", agency=agency_a)
    add_colleague(as_identity(officer_a), request, colleague.email)
    response = new_client(colleague).get(
        f"/portal/requests/{request.reference}/packages/{package.id}")
    assert response.status_code == 200 and len(response.data) == package.size


def test_another_agency_gets_not_found(released, officer_b, new_client):
    request, package = released
    response = new_client(officer_b).get(
        f"/portal/requests/{request.reference}/packages/{package.id}")
    assert response.status_code == 404


def test_an_expired_package_answers_plainly_and_staff_reissue_it(released, officer_a,
                                                                 releaser, new_client):
    request, package = released
    package.expires_at = now() - timedelta(minutes=1)
    db.session.flush()
    officer = new_client(officer_a)
    response = officer.get(f"/portal/requests/{request.reference}/packages/{package.id}")
    assert response.status_code == 410 and b"expired on" in response.data
    assert f'id="unavailable-{package.id}"' in officer.get(
        f"/portal/requests/{request.reference}").text

    staff = releaser
    url = f"/requests/{request.reference}"
    response = post_form(staff, url, f"/packages/{package.id}/reissue",
                         {"expiry_days": "3", "download_limit": "2"})
    assert any("Re-issued" in text for _, text in flashes(follow(staff, response).text))
    old, new = packages_of(request)
    assert old.status == "withdrawn" and not package_path(old).exists()
    assert new.status == "ready" and new.download_limit == 2 and new.reissue_of_id == old.id
    assert timedelta(days=2) < new.expires_at - now() <= timedelta(days=3)
    assert officer.get(f"/portal/requests/{request.reference}/packages/{new.id}").status_code == 200
    assert officer.get(f"/portal/requests/{request.reference}/packages/{old.id}").status_code == 404


def test_over_the_limit_answers_plainly_and_a_range_resumes_without_counting(
        released, officer_a, new_client):
    request, package = released
    package.download_limit = 1
    db.session.flush()
    officer = new_client(officer_a)
    url = f"/portal/requests/{request.reference}/packages/{package.id}"
    first = officer.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206 and len(first.data) == 100
    rest = officer.get(url, headers={"Range": "bytes=100-", "If-Range": f'"{package.sha256}"'})
    assert rest.status_code == 206
    whole = first.data + rest.data
    assert hashlib.sha256(whole).hexdigest() == package.sha256
    again = officer.get(url)
    assert again.status_code == 410 and b"its limit" in again.data
    db.session.expire_all()
    rows = packages_of(request)[0].downloads
    assert [(r.range_start, r.range_end) for r in rows] == [(0, 99), (100, package.size - 1)]
    assert packages_of(request)[0].downloads_used == 1


def _refused_range(officer, url, package):
    response = officer.get(url, headers={"Range": f"bytes={package.size + 10}-"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{package.size}"
    assert f"outside the package ({package.size:,} bytes)" in response.text
    return response


def test_a_range_outside_the_file_is_refused_and_not_counted(released, officer_a, new_client):
    request, package = released
    officer = new_client(officer_a)
    url = f"/portal/requests/{request.reference}/packages/{package.id}"
    _refused_range(officer, url, package)
    db.session.expire_all()
    assert packages_of(request)[0].downloads_used == 0 and packages_of(request)[0].downloads == []


def test_the_api_needs_the_scope_and_the_officer_scope(released, officer_a, officer_b,
                                                       officer_token, app):
    from referrals.tokens.models import ApiToken

    request, package = released
    client = app.test_client()
    mine = bearer(officer_token(officer_a))
    url = f"/api/v1/requests/{request.reference}/packages/{package.id}"
    own = client.get(url, headers=mine)
    assert own.status_code == 200 and hashlib.sha256(own.data).hexdigest() == package.sha256
    listed = client.get(f"/api/v1/requests/{request.reference}/packages", headers=mine).get_json()
    assert [p["id"] for p in listed] == [package.id] and listed[0]["one_time_key"] == "available"
    key = client.post(f"{url}/key", headers=mine)
    assert key.status_code == 200 and key.get_json()["identity"].startswith("AGE-SECRET-KEY-1")
    assert client.post(f"{url}/key", headers=mine).status_code == 410
    assert client.get(url, headers=bearer(officer_token(officer_b))).status_code == 404
    assert client.get(url).status_code == 401

    no_scope = officer_token(officer_a, name="no scope")
    token = db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
    token.scopes = ""
    db.session.flush()
    refused = client.get(url, headers=bearer(no_scope))
    assert refused.status_code == 403 and b"requests:write" in refused.data


def test_the_help_page_gives_the_commands_and_our_key(officer_a, new_client):
    page = new_client(officer_a).get("/portal/packages/help")
    signer = get_signer()
    assert page.status_code == 200
    for text in ("age -d -i key.txt", "tar xf", "ssh-keygen -Y verify", "sha256sum -c",
                 signer.fingerprint, signer.public_key_openssh):
        assert text in page.text


# --- a case's evidence for a referral -----------------------------------------------------------


def test_staff_package_a_case_take_its_key_once_and_download_it_for_hand_delivery(
        agent, new_client, tmp_path):
    import io

    from referrals.core.identity import Identity
    from referrals.evidence.services import add_evidence
    from referrals.packages.models import EvidencePackage
    from tests.cases.helpers import open_case

    case = open_case(agent)
    item = add_evidence(Identity.for_user(agent), case, io.BytesIO(b"synthetic chat\n" * 99),
                        original_name="chat.txt")
    staff = new_client(agent)
    url = f"/cases/{case.reference}"
    response = post_form(staff, url, f"{url}/packages", {"recipient": ""})
    page = follow(staff, response)
    package = db.session.scalar(select(EvidencePackage).where(EvidencePackage.case_id == case.id))
    assert package.status == "ready" and package.items == [item.id]
    assert f'id="package-key-{package.id}"' in page.text

    shown = post_form(staff, url, f"/packages/{package.id}/key")
    [secret] = re.findall(r"AGE-SECRET-KEY-1[0-9A-Z]+", shown.text)
    again = post_form(staff, url, f"/packages/{package.id}/key")
    assert any("shown once already" in text for _, text in flashes(follow(staff, again).text))

    download = staff.get(f"/packages/{package.id}/download")
    assert download.status_code == 200
    (tmp_path / package.file_name).write_bytes(download.data)
    key = tmp_path / "key.txt"
    key.write_text(secret + "\n")
    bag = open_with_age(tmp_path / package.file_name, key, tmp_path)
    assert (bag / "data" / str(item.id) / "chat.txt").read_bytes() == b"synthetic chat\n" * 99
    db.session.expire_all()
    [row] = db.session.get(EvidencePackage, package.id).downloads
    assert (row.via, row.user_id) == ("staff", agent.id)


def test_a_bad_recipient_for_a_case_package_is_refused_plainly(agent, new_client):
    import io

    from referrals.core.identity import Identity
    from referrals.evidence.services import add_evidence
    from tests.cases.helpers import open_case

    case = open_case(agent)
    add_evidence(Identity.for_user(agent), case, io.BytesIO(b"x"), original_name="x.txt")
    staff = new_client(agent)
    url = f"/cases/{case.reference}"
    response = post_form(staff, url, f"{url}/packages", {"recipient": "age1notakey"})
    assert any("not valid" in text for _, text in flashes(follow(staff, response).text))


# --- on S3 ----------------------------------------------------------------------------------


@pytest.fixture
def on_s3(app, s3_objects):
    """This test's installation keeps evidence and packages in a bucket (moto's server)."""
    settings = app.config["REFERRALS_SETTINGS"]
    before = app.extensions.get("referrals_store")
    app.config["REFERRALS_SETTINGS"] = replace(settings, storage_backend="s3",
                                               s3_bucket=s3_objects.bucket)
    app.extensions["referrals_store"] = BlobStore(s3_objects, settings.storage_keys)
    yield s3_objects
    app.config["REFERRALS_SETTINGS"] = settings
    if before is None:
        app.extensions.pop("referrals_store", None)
    else:
        app.extensions["referrals_store"] = before


def test_on_s3_the_package_lives_in_the_bucket_and_ranges_still_resume(
        on_s3, released, officer_a, releaser, new_client):
    request, package = released
    shelf = on_s3.folder("packages")
    assert sorted(shelf.names()) == sorted(package.file_name + suffix
                                           for suffix in ("", ".sha256", ".sha256.sig"))
    assert not package_path(package).exists(), "nothing on this server's disk"

    officer = new_client(officer_a)
    url = f"/portal/requests/{request.reference}/packages/{package.id}"
    first = officer.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206 and len(first.data) == 100
    assert first.headers["Content-Range"] == f"bytes 0-99/{package.size}"
    rest = officer.get(url, headers={"Range": "bytes=100-", "If-Range": f'"{package.sha256}"'})
    assert rest.status_code == 206 and len(rest.data) == package.size - 100
    assert hashlib.sha256(first.data + rest.data).hexdigest() == package.sha256
    whole = officer.get(url)
    assert whole.status_code == 200 and hashlib.sha256(whole.data).hexdigest() == package.sha256
    assert officer.get(f"{url}/sha256").data.decode().startswith(package.sha256)

    response = post_form(releaser, f"/requests/{request.reference}",
                         f"/packages/{package.id}/reissue")
    assert response.status_code == 302
    old, new = packages_of(request)
    names = set(shelf.names())
    assert old.file_name not in names and new.file_name in names


def test_on_s3_a_range_outside_the_file_is_refused_and_not_counted(
        on_s3, released, officer_a, new_client):
    request, package = released
    officer = new_client(officer_a)
    _refused_range(officer, f"/portal/requests/{request.reference}/packages/{package.id}",
                   package)
    db.session.expire_all()
    assert packages_of(request)[0].downloads_used == 0


def test_on_s3_an_upload_left_by_a_killed_build_is_swept(on_s3, app, monkeypatch):
    from referrals.core import s3store
    from referrals.packages.services import remove_leftovers

    shelf = on_s3.folder("packages")
    upload = shelf.writer("REQ-0000-synthetic.tar.age")
    upload.write(b"\0" * (s3store.PART + 1))  # a part went up; then the worker was killed
    assert remove_leftovers(0) == [], "its writer may still be alive"
    moved = s3store.time.time() + s3store.WRITE_LEASE + 1
    monkeypatch.setattr(s3store.time, "time", lambda: moved)
    assert remove_leftovers(0) == ["REQ-0000-synthetic.tar.age"]
    assert list(on_s3._uploads(shelf.base)) == []
