"""The CyberTipline XML: valid against NCMEC's XSD, the documented rules enforced before
anything is sent, and the truth about human review."""

from __future__ import annotations

import filecmp
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.etree.ElementTree import fromstring

import pytest

from referrals.core.clock import now
from referrals.demo.cases import seed_sample_cases
from referrals.ncmec import xml as ncmec_xml
from referrals.ncmec.reading import case_evidence, checked_report, file_reviews, file_values
from referrals.ncmec.xml import (Account, ReportInvalid, build_file_details, build_report,
                                 schema, to_xml, validate)
from tests.ncmec.conftest import add_file, grooming_case

SHARED_XSD = Path(__file__).resolve().parents[3] / "shared" / "ncmec" / "cybertipline-report.xsd"


def test_the_packaged_schema_is_ncmecs():
    shared = Path("/work/shared/ncmec/cybertipline-report.xsd")
    if not shared.exists():
        shared = SHARED_XSD
    assert shared.exists(), "the shared copy of NCMEC's XSD is where the repository expects it"
    assert filecmp.cmp(ncmec_xml.SCHEMA_PATH, shared, shallow=False)


def test_a_case_exports_valid_xml_with_its_accounts_and_files(app, agent, make_user):
    case = grooming_case()
    reviewer = make_user("supervisor")
    add_file(agent, case, "seen.png", seed=1, viewed_by=reviewer)
    add_file(agent, case, "unseen.png", seed=2)
    report = checked_report(case, case_evidence(case))
    body = to_xml(report)
    assert schema().is_valid(body.decode())
    parsed = fromstring(body)
    assert parsed.findtext("incidentSummary/incidentType") == \
        "Online Enticement of Children for Sexual Acts"
    assert parsed.findtext("incidentSummary/incidentDateTime").endswith("Z")
    assert parsed.findtext("reporter/reportingPerson/email") == "cybertip-demo@referrals.invalid"
    reported = parsed.find("personOrUserReported")
    assert reported.findtext("espIdentifier").startswith("u-")
    assert reported.findtext("ipCaptureEvent/ipAddress") == "198.51.100.7"
    info = parsed.findtext("additionalInfo")
    assert "automated detection" in info and "1 of the 2 files" in info and "unseen.png" in info


def test_file_viewed_only_when_a_person_viewed_it(app, agent, make_user):
    case = grooming_case()
    reviewer = make_user("supervisor")
    seen = add_file(agent, case, "seen.png", seed=3, viewed_by=reviewer)
    unseen = add_file(agent, case, "unseen.png", seed=4)
    # A download by a person, or a "viewed" by the system, is not a person viewing the file.
    from referrals.core.identity import system_identity
    from referrals.evidence.services import record_custody
    record_custody(system_identity("job:classifier"), unseen, "viewed", "classifier pass")
    reviews = {r.item.id: r for r in file_reviews([seen, unseen])}
    assert reviews[seen.id].viewed_by_person and not reviews[unseen.id].viewed_by_person
    for item, expected in ((seen, "true"), (unseen, "false")):
        details = build_file_details(file_values(reviews[item.id], 4564654, "f1"))
        validate(details, now())
        assert details.findtext("fileViewedByEsp") == expected
        assert details.findtext("exifViewedByEsp") == "false"
        hashes = {h.get("hashType"): h.text for h in details.findall("originalFileHash")}
        assert hashes == {"MD5": item.md5, "SHA1": item.sha1, "SHA256": item.sha256}


def test_a_case_outside_ncmecs_remit_is_refused_by_name(app):
    case = grooming_case(category="violent_extremism")
    with pytest.raises(Exception) as caught:
        checked_report(case, [])
    assert "Violent extremism" in str(caught.value)


def _values(**changes):
    values = ncmec_xml.ReportValues(
        incident_type="Online Enticement of Children for Sexual Acts",
        incident_at=now() - timedelta(days=1), incident_description="", platform="Platform",
        urls=["https://platform.example/c/1"], reporter_first_name="Demo",
        reporter_last_name="Reporter", reporter_email="reports@platform.example",
        reported=[Account(esp_identifier="u-1")], victims=[], additional_info="")
    for name, value in changes.items():
        setattr(values, name, value)
    return values


@pytest.mark.parametrize("changes, where, words", [
    ({"reporter_email": ""}, "reportingPerson › email", "needs an e-mail address"),
    ({"reporter_email": "not-an-address"}, "reportingPerson › email", "not a well-formed"),
    ({"incident_at": datetime(2026, 1, 1, 12, 0)}, "incidentDateTime", "no time zone"),
    ({"incident_at": datetime.now(timezone.utc) + timedelta(days=2)}, "incidentDateTime",
     "in the future"),
    ({"reported": [Account(ips=[("300.1.2.3", None, None)])]}, "ipCaptureEvent › ipAddress",
     "not a valid IPv4 or IPv6"),
    ({"reported": [Account(ips=[("198.51.100.9", None, 70000)])]}, "ipCaptureEvent › port",
     "between 1 and 65535"),
    ({"reported": [Account(esp_identifier="u" * 256)]}, "espIdentifier", "at most 255"),
    ({"urls": ["javascript:alert(1)"]}, "webPageIncident › url", "not a valid web address"),
    ({"platform": "P" * 257}, "incidentSummary › platform", "at most 256"),
])
def test_invalid_data_is_refused_naming_the_field(app, changes, where, words):
    report = build_report(_values(**changes))
    with pytest.raises(ReportInvalid) as caught:
        validate(report, now())
    assert any(where in w and words in m for w, m in caught.value.problems), \
        caught.value.problems
    assert where in str(caught.value)


def test_the_xsd_catches_what_the_rules_do_not(app):
    report = build_report(_values(incident_type="Something else"))
    with pytest.raises(ReportInvalid) as caught:
        validate(report, now())
    assert any("incidentType" in w for w, _ in caught.value.problems), caught.value.problems


def test_exif_viewed_needs_file_viewed(app):
    details = build_file_details(ncmec_xml.FileValues(
        report_id=1, file_id="f", original_name="a.png", location=None,
        viewed_by_person=False, hashes=[]))
    details.find("exifViewedByEsp").text = "true"
    with pytest.raises(ReportInvalid, match="fileViewedByEsp"):
        validate(details, now())


def test_export_command_prints_the_xml_or_refuses_plainly(app, agent):
    case = grooming_case()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["ncmec", "export", case.reference])
    assert result.exit_code == 0, result.output
    assert schema().is_valid(result.output)
    other = grooming_case(category="imminent_harm")
    result = runner.invoke(args=["ncmec", "export", other.reference])
    assert result.exit_code == 1 and "CyberTipline report is for" in result.output
    result = runner.invoke(args=["ncmec", "export", "CASE-1999-000001"])
    assert result.exit_code == 1 and "There is no case CASE-1999-000001" in result.output


def test_the_demo_cases_export_valid_xml(app, agent):
    from sqlalchemy import select

    from referrals.cases.models import Case
    from referrals.extensions import db
    from referrals.ncmec.reading import INCIDENT_TYPES

    assert seed_sample_cases(agent.id)
    reportable = list(db.session.scalars(
        select(Case).where(Case.category.in_(INCIDENT_TYPES)).order_by(Case.id)))
    assert reportable, "the demo needs a case NCMEC takes"
    runner = app.test_cli_runner()
    with_files = 0
    for case in reportable:
        result = runner.invoke(args=["ncmec", "export", case.reference])
        assert result.exit_code == 0, result.output
        assert schema().is_valid(result.output)
        with_files += bool(case_evidence(case))
        for review in file_reviews(case_evidence(case)):
            validate(build_file_details(file_values(review, 4564654, "f")), now())
    assert with_files, "a demo case carries a file, to show the unviewed-files warning"
