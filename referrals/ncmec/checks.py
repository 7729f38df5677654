"""What NCMEC's API documentation requires and the XSD does not say.

The XSD types most values as plain strings; the documentation (``../shared/ncmec``, Appendix
A-C) adds: the reporting person's e-mail, a time zone on every timestamp, timestamps in the
past, valid IP addresses, URLs and e-mail addresses, field lengths, ranges and fields that
depend on each other. ``check(element, at)`` walks a built ``<report>`` or ``<fileDetails>``
and returns every problem as (where, plain message); nothing is sent while there is one.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

# Element name → longest value the documentation allows (characters).
MAX_LENGTH = {
    "firstName": 100, "lastName": 100, "middleName": 100, "platform": 256,
    "escalateToHighPriority": 3000, "incidentDateTimeDescription": 3000,
    "url": 2083, "locationOfFile": 2083, "profileUrl": 2083, "legalURL": 2083,
    "chatClient": 255, "chatRoomName": 255, "gameName": 255, "console": 255,
    "locationName": 255, "client": 255, "agencyName": 255, "caseNumber": 100,
    "vehicleDescription": 300, "espIdentifier": 255, "espService": 100, "screenName": 256,
    "displayName": 255, "groupIdentifier": 255, "idType": 255, "idValue": 2083,
    "zipCode": 20, "nonUsaState": 100, "phone": 50, "email": 255, "emailAddress": 255,
    "originalFileName": 2056, "region": 255, "schoolName": 255,
}
# Under <address> these are shorter than elsewhere.
ADDRESS_MAX_LENGTH = {"address": 255, "city": 100}
NOT_BLANK = ("ipAddress", "idType", "idValue", "escalateToHighPriority", "fileId")
DATE_TIME_ELEMENTS = ("incidentDateTime", "dateTime", "uploadedToEspTimestamp")
DATE_TIME_ATTRIBUTES = ("verificationDate", "disabledDate", "userNotifiedDate",
                        "reenabledDate", "timestamp")
URL_ELEMENTS = ("url", "locationOfFile", "profileUrl", "legalURL")
EMAIL_ELEMENTS = ("email", "emailAddress")
PERSON_PARENTS = ("personOrUserReported", "intendedRecipient", "victim")
_ZONE = re.compile(r"(Z|[+-]\d{2}:\d{2})$")
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")

Problem = tuple[str, str]


def check(root: Element, at: datetime) -> list[Problem]:
    problems: list[Problem] = []
    _walk(root, root.tag, "", at, problems)
    if root.tag == "report":
        _report_rules(root, problems)
    if root.tag == "fileDetails":
        _file_rules(root, problems)
    return problems


def _walk(element: Element, path: str, parent: str, at: datetime,
          problems: list[Problem]) -> None:
    tag, value = element.tag, (element.text or "").strip()
    in_address = parent in ("address", "incidentAddress")
    limit = (ADDRESS_MAX_LENGTH.get(tag) if in_address else None) or MAX_LENGTH.get(tag)
    if limit is not None and len(element.text or "") > limit:
        problems.append((path, f"is {len(element.text)} characters long; NCMEC accepts at most "
                               f"{limit}."))
    if tag in NOT_BLANK and not value and len(element) == 0:
        problems.append((path, "must not be blank."))
    if tag == "ipAddress" and value:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            problems.append((path, f"'{value}' is not a valid IPv4 or IPv6 address."))
    if tag in EMAIL_ELEMENTS and value:
        if not _EMAIL.match(value):
            problems.append((path, f"'{value}' is not a well-formed e-mail address."))
        elif len(value.split("@", 1)[0]) > 64:
            problems.append((path, "the part before the @ is longer than 64 characters."))
    if tag in URL_ELEMENTS and value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
            problems.append((path, f"'{value}' is not a valid web address (http or https)."))
    if tag == "port" and value:
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            problems.append((path, f"'{value}' is not a port number between 1 and 65535."))
    if tag == "age" and value:
        if not value.isdigit() or int(value) > 150:
            problems.append((path, f"'{value}' is not an age between 0 and 150."))
    if tag in DATE_TIME_ELEMENTS and value:
        _timestamp(path, value, at, problems)
    if tag == "dateOfBirth" and value:
        try:
            if date.fromisoformat(value) >= at.date():
                problems.append((path, f"{value} is not in the past."))
        except ValueError:
            problems.append((path, f"'{value}' is not a date (YYYY-MM-DD)."))
    for name in DATE_TIME_ATTRIBUTES:
        if element.get(name):
            _timestamp(f"{path} @{name}", element.get(name), at, problems)
    if element.get("verificationDate") and element.get("verified") != "true":
        problems.append((f"{path} @verified", "must be true when a verification date is given."))
    code = element.get("countryCallingCode")
    if code is not None and not re.fullmatch(r"\+[0-9]{1,3}", code):
        problems.append((f"{path} @countryCallingCode", f"'{code}' is not like +1 or +44."))
    if code and value.startswith(code):
        problems.append((path, "must not start with the country calling code given beside it."))
    extension = element.get("extension")
    if extension is not None and not re.fullmatch(r"[0-9]{1,10}", extension):
        problems.append((f"{path} @extension", "must be up to 10 digits."))
    disabled = element.get("disabledDate")
    for later, strictly in (("userNotifiedDate", False), ("reenabledDate", True)):
        if disabled and element.get(later):
            first, second = _parse(disabled), _parse(element.get(later))
            if first and second and (second < first or (strictly and second == first)):
                problems.append((f"{path} @{later}", "is before the date the account was "
                                                     "disabled."))
    if tag == "estimatedLocation" and element.find("countryCode") is None:
        problems.append((path, "needs a countryCode."))
    counts: dict[str, int] = {}
    for child in element:
        counts[child.tag] = counts.get(child.tag, 0) + 1
    seen: dict[str, int] = {}
    for child in element:
        seen[child.tag] = seen.get(child.tag, 0) + 1
        label = child.tag if counts[child.tag] == 1 else f"{child.tag}[{seen[child.tag]}]"
        _walk(child, f"{path} › {label}", tag, at, problems)


def _parse(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _timestamp(path: str, value: str, at: datetime, problems: list[Problem]) -> None:
    parsed = _parse(value)
    if parsed is None:
        problems.append((path, f"'{value}' is not an ISO 8601 date and time."))
    elif parsed.tzinfo is None or not _ZONE.search(value):
        problems.append((path, f"'{value}' has no time zone (Z or +hh:mm)."))
    elif parsed > at:
        problems.append((path, f"{value} is in the future."))


def _report_rules(root: Element, problems: list[Problem]) -> None:
    person = root.find("reporter/reportingPerson")
    if person is not None and not [e for e in person.findall("email") if (e.text or "").strip()]:
        problems.append(("report › reporter › reportingPerson › email",
                         "the reporting person needs an e-mail address "
                         "(REFERRALS_NCMEC_REPORTER_EMAIL)."))
    known = {(e.text or "").strip().lower()
             for parent in PERSON_PARENTS for p in root.findall(parent)
             for e in p.iter("email")}
    for details in root.findall("internetDetails"):
        for incident in details:
            for email in incident.findall("emailAddress"):
                if (email.text or "").strip().lower() not in known:
                    problems.append((f"report › internetDetails › {incident.tag} › emailAddress",
                                     f"'{email.text}' must also be given as the e-mail of a "
                                     "reported person, intended recipient or victim."))


def _file_rules(root: Element, problems: list[Problem]) -> None:
    if root.findtext("exifViewedByEsp") == "true" and root.findtext("fileViewedByEsp") != "true":
        problems.append(("fileDetails › fileViewedByEsp",
                         "must be true when exifViewedByEsp is true."))
    if root.findtext("fileRelevance") == "Supplemental Reported":
        if root.find("industryClassification") is not None:
            problems.append(("fileDetails › fileRelevance", "a supplemental file cannot carry "
                                                            "an industry classification."))
        if root.find("potentialMeme") is not None or \
                root.find("fileAnnotations/potentialMeme") is not None:
            problems.append(("fileDetails › fileRelevance", "a supplemental file cannot be "
                                                            "marked as a potential meme."))
