"""Calls to the CyberTipline API (NCMEC's, or the sandbox) through the one HTTP client.

Every answer's ``Request-ID`` is logged (with the endpoint, HTTP status and
``responseCode``) and returned for the step record. Any non-zero ``responseCode`` is a
refusal whatever the HTTP status (NCMEC may answer a refusal with 200). Credentials and
the base URL are settings, read when the call is made, never stored in a payload.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import IO
from xml.etree.ElementTree import Element, ParseError, fromstring

from flask import current_app

from referrals.core.http import RemoteError, RemoteRefused, http_client, remote_request_id

log = logging.getLogger(__name__)


class NcmecRefused(RemoteRefused):
    """NCMEC answered with a non-zero ``responseCode``."""

    def __init__(self, message: str, *, code: int | None, status: int | None,
                 request_id: str | None):
        super().__init__(message, status=status, request_id=request_id)
        self.code = code


@dataclass(frozen=True)
class Answer:
    root: Element
    request_id: str | None
    status: int

    def text(self, tag: str) -> str | None:
        value = self.root.findtext(tag)
        return value.strip() if value is not None else None


def _settings():
    return current_app.config["REFERRALS_SETTINGS"]


def _call(endpoint: str, **kwargs) -> Answer:
    settings = _settings()
    url = f"{settings.ncmec_base_url}/{endpoint}"
    try:
        with http_client() as client:
            response = client.request("POST", url, auth=(settings.ncmec_username,
                                                         settings.ncmec_password), **kwargs)
    except RemoteError as error:
        log.warning("NCMEC %s: HTTP %s, Request-ID %s: %s", endpoint, error.status,
                    error.request_id, error.message)
        raise
    request_id = remote_request_id(response)
    try:
        root = fromstring(response.content)
        code = int(root.findtext("responseCode", "").strip())
    except (ParseError, ValueError):
        log.warning("NCMEC %s: HTTP %s, Request-ID %s: no responseCode in the answer",
                    endpoint, response.status_code, request_id)
        raise NcmecRefused(f"NCMEC's answer to {endpoint} had no responseCode.", code=None,
                           status=response.status_code, request_id=request_id) from None
    log.info("NCMEC %s: HTTP %s, responseCode %s, Request-ID %s", endpoint,
             response.status_code, code, request_id)
    if code != 0:
        description = (root.findtext("responseDescription") or "").strip()
        raise NcmecRefused(f"NCMEC refused {endpoint}: responseCode {code}"
                           + (f" ({description})" if description else "")
                           + f", Request-ID {request_id or 'none'}.",
                           code=code, status=response.status_code, request_id=request_id)
    return Answer(root, request_id, response.status_code)


XML = {"Content-Type": "text/xml; charset=utf-8"}


def submit(report_xml: bytes) -> Answer:
    return _call("submit", content=report_xml, headers=XML)


def upload(report_id: str, name: str, stream: IO[bytes], mime_type: str) -> Answer:
    return _call("upload", data={"id": report_id}, files={"file": (name, stream, mime_type)})


def fileinfo(details_xml: bytes) -> Answer:
    return _call("fileinfo", content=details_xml, headers=XML)


def finish(report_id: str) -> Answer:
    return _call("finish", data={"id": report_id})


def retract(report_id: str) -> Answer:
    return _call("retract", data={"id": report_id})
