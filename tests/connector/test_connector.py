"""The platform connector: the demo platform is deterministic, a deployment plugs its own by
REFERRALS_CONNECTOR, and a connector that is wrong or fails says so plainly."""

from __future__ import annotations

import hashlib
import io
import itertools
from datetime import date

import pytest
from sqlalchemy import select

from config import load_settings
from referrals.connector import (METHODS, ConnectorError, Export, Period, PlatformConnector,
                                 Target, fetch, get_connector, load_connector)
from referrals.connector.demo import DemoConnector, export_as_json
from referrals.connector.services import collect_from_platform
from referrals.core.identity import Identity
from referrals.core.storage import get_store
from referrals.evidence.models import CustodyEvent, EvidenceItem
from referrals.extensions import db
from referrals.holds.models import PreservationHold
from tests.connector import fakes

ALICE = Target("username", "made_up_alice")
BOB = Target("platform_user_id", "u-made-up-0002")
SPRING = Period(date(2025, 3, 1), date(2025, 5, 31))
_holds = itertools.count(1)
COLLECTOR = Identity(kind="staff", label="agent@test.example", roles=frozenset({"agent"}))


# --- the demo platform --------------------------------------------------------------------


@pytest.mark.parametrize("category", list(METHODS))
def test_the_demo_platform_gives_the_same_answer_every_time(category):
    first = fetch(DemoConnector(), category, ALICE, SPRING)
    again = fetch(DemoConnector(), category, ALICE, SPRING)
    assert first == again
    assert export_as_json(first) == export_as_json(again)
    assert first.category == category and first.target == ALICE and first.period == SPRING


@pytest.mark.parametrize("category", ["login_logout", "interaction", "content", "transaction"])
def test_the_demo_platform_answers_each_account_and_period_differently(category):
    alice = export_as_json(fetch(DemoConnector(), category, ALICE, SPRING))
    bob = export_as_json(fetch(DemoConnector(), category, BOB, SPRING))
    later = export_as_json(fetch(DemoConnector(), category, ALICE,
                                 Period(date(2025, 9, 1), date(2025, 11, 30))))
    assert len({alice, bob, later}) == 3


def test_the_demo_platform_keeps_to_the_dates_asked_for():
    export = DemoConnector().login_records(ALICE, SPRING)
    assert export.records, "the synthetic account logs in now and then"
    for record in export.records:
        assert "2025-03-01" <= record["at"][:10] <= "2025-05-31"
    assert DemoConnector().login_records(ALICE, Period(date(2019, 1, 1), date(2019, 12, 31))).records == []


def test_demo_content_comes_with_files_whose_bytes_match_the_records():
    export = DemoConnector().content_items(ALICE, SPRING)
    assert export.files and len(export.files) == len(export.records)
    for record, file in zip(export.records, export.files, strict=True):
        assert file.platform_content_id == record["platform_content_id"]
        assert file.data == record["text"].encode()


def test_export_bytes_are_canonical_json():
    data = export_as_json(DemoConnector().subscriber_information(ALICE, SPRING))
    assert data.endswith(b"\n") and data.startswith(b"{")
    assert b'"category": "subscriber"' in data and b'"value": "made_up_alice"' in data


def test_the_demo_connector_meets_the_protocol():
    assert isinstance(DemoConnector(), PlatformConnector)


def test_an_unknown_category_is_a_plain_error():
    with pytest.raises(ConnectorError) as refused:
        fetch(DemoConnector(), "browsing_history", ALICE, SPRING)
    assert refused.value.message == "There is no data category called 'browsing_history'."
    assert refused.value.status == 502


# --- loading a deployment's connector -------------------------------------------------------


@pytest.mark.parametrize(("spec", "message"), [
    ("referrals.connector.demo.DemoConnector",
     "REFERRALS_CONNECTOR must look like 'package.module:Class', not "
     "'referrals.connector.demo.DemoConnector'."),
    (":DemoConnector", "REFERRALS_CONNECTOR must look like 'package.module:Class', not ':DemoConnector'."),
    ("referrals.connector.demo:", "REFERRALS_CONNECTOR must look like 'package.module:Class', not "
     "'referrals.connector.demo:'."),
])
def test_a_malformed_spec_is_refused_plainly(spec, message):
    with pytest.raises(ConnectorError) as refused:
        load_connector(spec)
    assert refused.value.message == message


def test_a_missing_module_is_refused_plainly():
    with pytest.raises(ConnectorError) as refused:
        load_connector("made_up_platform_sdk.connector:Platform")
    assert refused.value.message.startswith(
        "The platform connector 'made_up_platform_sdk.connector:Platform' cannot be loaded: ")
    assert "made_up_platform_sdk" in refused.value.message


def test_a_missing_class_is_refused_plainly():
    with pytest.raises(ConnectorError) as refused:
        load_connector("tests.connector.fakes:NoSuchConnector")
    assert refused.value.message.startswith(
        "The platform connector 'tests.connector.fakes:NoSuchConnector' cannot be loaded: ")


def test_a_connector_without_every_method_is_refused_naming_what_it_lacks():
    with pytest.raises(ConnectorError) as refused:
        load_connector("tests.connector.fakes:HalfConnector")
    assert refused.value.message == (
        "The platform connector 'tests.connector.fakes:HalfConnector' lacks login_records, "
        "interaction_records, content_items, transactions.")


def test_a_connector_without_a_name_is_refused():
    with pytest.raises(ConnectorError) as refused:
        load_connector("tests.connector.fakes:NamelessConnector")
    assert refused.value.message.endswith("lacks name.")


def test_the_setting_names_the_connector():
    settings = load_settings({"REFERRALS_ENV": "test",
                              "REFERRALS_CONNECTOR": "tests.connector.fakes:RecordingConnector"})
    assert settings.connector == "tests.connector.fakes:RecordingConnector"
    assert load_settings({"REFERRALS_ENV": "test"}).connector == \
        "referrals.connector.demo:DemoConnector"


def test_a_deployment_plugs_its_own_connector_by_the_setting(app, use_connector):
    use_connector("tests.connector.fakes:RecordingConnector")
    built = fakes.RecordingConnector.built
    connector = get_connector()
    assert isinstance(connector, fakes.RecordingConnector)
    assert get_connector() is connector, "built once per application"
    assert fakes.RecordingConnector.built == built + 1

    [item] = collect_from_platform(COLLECTOR, targets=[ALICE], categories=["subscriber"],
                                   period=SPRING, purpose="Plug-in test", hold=_hold())
    assert connector.asked == [("subscriber", ALICE, SPRING)]
    assert item.source_system == "recording-platform"


def test_a_misconfigured_connector_is_a_plain_error_when_first_used(app, use_connector):
    use_connector("made_up_platform_sdk:Platform")
    with pytest.raises(ConnectorError) as refused:
        get_connector()
    assert "cannot be loaded" in refused.value.message


# --- collecting -----------------------------------------------------------------------------


def _hold() -> PreservationHold:
    """A bare hold to own collected items (the holds feature makes real ones)."""
    from referrals.core.clock import now

    at = now()
    hold = PreservationHold(reference=f"HOLD-TEST-{next(_holds):06d}", kind="internal",
                            status="active", placed_by_label="test", placed_at=at, starts_at=at,
                            updated_at=at)
    db.session.add(hold)
    db.session.flush()
    return hold


def _stored_bytes(item: EvidenceItem) -> bytes:
    return b"".join(get_store().read(item.blob.storage_name))


def test_collecting_stores_each_answer_as_evidence_with_its_hashes(app, use_connector):
    use_connector(DemoConnector())
    hold = _hold()
    items = collect_from_platform(COLLECTOR, targets=[ALICE], categories=["subscriber", "content"],
                                  period=SPRING, purpose="Snapshot for the test", hold=hold)
    subscriber = export_as_json(DemoConnector().subscriber_information(ALICE, SPRING))
    content = DemoConnector().content_items(ALICE, SPRING)
    expected = [subscriber, export_as_json(content)] + [f.data for f in content.files]
    assert [_stored_bytes(i) for i in items] == expected
    for item, data in zip(items, expected, strict=True):
        assert item.sha256 == hashlib.sha256(data).hexdigest()
        assert item.md5 == hashlib.md5(data).hexdigest()
        assert item.size == len(data)
        assert (item.hold_id, item.case_id, item.request_id) == (hold.id, None, None)
        [custody] = db.session.scalars(select(CustodyEvent).where(CustodyEvent.evidence_id == item.id))
        assert (custody.action, custody.purpose, custody.sha256) == (
            "collected", "Snapshot for the test", item.sha256)
    assert [i.data_category for i in items] == ["subscriber", "content"] + \
        ["content"] * len(content.files)
    assert items[2].platform_content_id == content.files[0].platform_content_id


def test_a_failing_platform_is_a_plain_error_and_stores_nothing(app, use_connector):
    use_connector(fakes.BrokenConnector())
    hold = _hold()
    files_before = _files()
    with pytest.raises(ConnectorError) as refused:
        collect_from_platform(COLLECTOR, targets=[ALICE], categories=["subscriber", "login_logout"],
                              period=SPRING, purpose="Snapshot", hold=hold)
    assert refused.value.message == (
        "The platform did not answer for login_logout of username made_up_alice. Try again "
        "later; if it keeps failing, tell the on-call.")
    # Subscriber information was answered first, but nothing was stored before the failure.
    assert _files() == files_before
    assert db.session.scalars(select(EvidenceItem).where(EvidenceItem.hold_id == hold.id)).all() == []


def test_an_answer_that_is_not_an_export_is_a_plain_error(app, use_connector):
    use_connector(fakes.WrongAnswerConnector())
    with pytest.raises(ConnectorError) as refused:
        collect_from_platform(COLLECTOR, targets=[ALICE], categories=["subscriber"],
                              period=SPRING, purpose="Snapshot", hold=_hold())
    assert "with something that is not an export" in refused.value.message


def test_flagged_media_from_the_platform_stays_flagged(app, use_connector):
    use_connector(fakes.FlaggedMediaConnector())
    items = collect_from_platform(COLLECTOR, targets=[ALICE], categories=["content"],
                                  period=SPRING, purpose="Snapshot", hold=_hold())
    assert [(i.original_name, i.may_be_csam) for i in items] == [
        ("content-username-made_up_alice.json", False), ("flagged.bin", True)]


def test_an_empty_answer_is_still_evidence():
    export = Export("subscriber", ALICE, SPRING, found=False)
    assert b'"found": false' in export_as_json(export)


def _files() -> set[str]:
    root = get_store().root
    return {str(p) for p in root.rglob("*")} if root.exists() else set()


def test_the_same_bytes_collected_twice_are_stored_once(app, use_connector):
    use_connector(DemoConnector())
    hold = _hold()
    first = collect_from_platform(COLLECTOR, targets=[ALICE], categories=["subscriber"],
                                  period=SPRING, purpose="Snapshot", hold=hold)
    again = collect_from_platform(COLLECTOR, targets=[ALICE], categories=["subscriber"],
                                  period=SPRING, purpose="Snapshot again", hold=hold)
    assert first[0].id != again[0].id and first[0].blob_id == again[0].blob_id
    assert io.BytesIO(_stored_bytes(again[0])).read() == _stored_bytes(first[0])
