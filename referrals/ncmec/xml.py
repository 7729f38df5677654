"""The CyberTipline XML: ``<report>`` and ``<fileDetails>`` built from plain values, in the
XSD's element order, and refused (``ReportInvalid``, every problem named) unless both the
documented rules (``checks``) and NCMEC's XSD (a copy in ``schema/``) accept them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from referrals.core.errors import InvalidInput
from referrals.ncmec.checks import Problem, check

if TYPE_CHECKING:
    import xmlschema

SCHEMA_PATH = Path(__file__).with_name("schema") / "cybertipline-report.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


class ReportInvalid(InvalidInput):
    """The report or a file's details would be refused: nothing is sent."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [f"{where}: {what}" for where, what in problems]
        super().__init__("The CyberTipline report cannot be sent until this is put right: "
                         + " ".join(lines), errors={w: m for w, m in problems})


@lru_cache(maxsize=1)
def schema() -> xmlschema.XMLSchema:
    # Imported here, not at the top: xmlschema (and elementpath) are about 10 MB of every
    # process that imports the app, and only a report being validated needs them (issue 17:
    # the process ingesting 1 GiB stays under 150 MB; tests/core/test_startup_imports.py).
    import xmlschema

    return xmlschema.XMLSchema(str(SCHEMA_PATH))


def stamp(value: datetime) -> str:
    """ISO 8601 with its zone: UTC as Z."""
    if value.tzinfo is None:
        return value.isoformat()  # refused by the checks: no zone
    return value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Account:
    """A reported person or user, or a victim: what the case knows about one account."""

    esp_identifier: str | None = None
    screen_name: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    ips: list[tuple[str, datetime | None, int | None]] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    prior_reports: list[int] = field(default_factory=list)


@dataclass
class ReportValues:
    incident_type: str
    incident_at: datetime
    incident_description: str
    platform: str
    urls: list[str]
    reporter_first_name: str
    reporter_last_name: str
    reporter_email: str
    reported: list[Account]
    victims: list[Account]
    additional_info: str
    esp_service: str = ""


@dataclass
class FileValues:
    report_id: int
    file_id: str
    original_name: str
    location: str | None
    viewed_by_person: bool
    hashes: list[tuple[str, str]]  # (hashType, value)
    additional_info: str = ""


def _text(parent: Element, tag: str, value: object) -> Element | None:
    if value is None or value == "":
        return None
    element = SubElement(parent, tag)
    element.text = value if isinstance(value, str) else (
        ("true" if value else "false") if isinstance(value, bool) else str(value))
    return element


def _ip_event(parent: Element, ip: str, seen: datetime | None, port: int | None) -> None:
    event = SubElement(parent, "ipCaptureEvent")
    _text(event, "ipAddress", ip)
    if seen is not None:
        _text(event, "dateTime", stamp(seen))
    _text(event, "port", port)


def _account(parent: Element, tag: str, person_tag: str, account: Account,
             esp_service: str, victim: bool) -> None:
    element = SubElement(parent, tag)
    if account.emails or account.phones or victim:
        person = SubElement(element, person_tag)
        for phone in account.phones:
            _text(person, "phone", phone)
        for email in account.emails:
            _text(person, "email", email)
    _text(element, "espIdentifier", account.esp_identifier)
    if account.esp_identifier or account.screen_name:
        _text(element, "espService", esp_service)
    _text(element, "screenName", account.screen_name)
    for ip, seen, port in account.ips:
        _ip_event(element, ip, seen, port)
    for device in account.devices:
        device_id = SubElement(element, "deviceId")
        _text(device_id, "idType", "Device ID")
        _text(device_id, "idValue", device)
    for prior in account.prior_reports:
        _text(element, "priorCTReports", prior)


def build_report(values: ReportValues) -> Element:
    report = Element("report")
    summary = SubElement(report, "incidentSummary")
    _text(summary, "incidentType", values.incident_type)
    _text(summary, "platform", values.platform)
    _text(summary, "incidentDateTime", stamp(values.incident_at))
    _text(summary, "incidentDateTimeDescription", values.incident_description)
    if values.urls:
        page = SubElement(SubElement(report, "internetDetails"), "webPageIncident")
        for url in values.urls:
            _text(page, "url", url)
    person = SubElement(SubElement(report, "reporter"), "reportingPerson")
    _text(person, "firstName", values.reporter_first_name)
    _text(person, "lastName", values.reporter_last_name)
    _text(person, "email", values.reporter_email)
    for account in values.reported:
        _account(report, "personOrUserReported", "personOrUserReportedPerson", account,
                 values.esp_service, victim=False)
    for account in values.victims:
        _account(report, "victim", "victimPerson", account, values.esp_service, victim=True)
    _text(report, "additionalInfo", values.additional_info)
    return report


def build_file_details(values: FileValues) -> Element:
    details = Element("fileDetails")
    _text(details, "reportId", values.report_id)
    _text(details, "fileId", values.file_id)
    _text(details, "originalFileName", values.original_name)
    _text(details, "locationOfFile", values.location)
    # True only when the custody log shows a person here viewed the file; our viewer shows
    # the picture, not its EXIF, so EXIF is never claimed as viewed.
    _text(details, "fileViewedByEsp", values.viewed_by_person)
    _text(details, "exifViewedByEsp", False)
    for hash_type, value in values.hashes:
        _text(details, "originalFileHash", value).set("hashType", hash_type)
    _text(details, "additionalInfo", values.additional_info)
    return details


def validate(element: Element, at: datetime) -> None:
    """Every problem at once, the documented rules first, then NCMEC's XSD."""
    problems = check(element, at)
    if not problems:
        for error in schema().iter_errors(tostring(element, encoding="unicode")):
            where = (error.path or element.tag).lstrip("/").replace("/", " › ")
            problems.append((where, error.reason or str(error.message)))
    if problems:
        raise ReportInvalid(problems)


def to_xml(element: Element) -> bytes:
    element.set("xmlns:xsi", XSI)
    element.set("xsi:noNamespaceSchemaLocation", "https://report.cybertip.org/ispws/xsd")
    try:
        indent(element)
        body = tostring(element, encoding="unicode")
    finally:
        del element.attrib["xmlns:xsi"], element.attrib["xsi:noNamespaceSchemaLocation"]
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")
