"""A made-up CyberTipline for development, demos and tests: NOT NCMEC, never in production.

It answers like NCMEC's documented API (``../shared/ncmec``): HTTP Basic credentials,
``/status``, ``/xsd``, ``/submit`` (a ``<report>`` checked against the XSD), ``/upload``
(multipart ``id`` + ``file``, answering the file id and its MD5), ``/fileinfo`` (a
``<fileDetails>``, once per file), ``/finish`` and ``/retract``, with a ``Request-ID``
header on every answer and the documented error codes in ``<responseCode>`` (4100
validation failed, 4110 malformed XML, 5001 no such report, 5002 no such file, 5101
already retracted, 5102 already finished, 2000 authentication required). Like NCMEC, a
refusal may come with HTTP 200: only ``responseCode`` 0 is success. Reports live in this
process's memory (``STATE``); tests may inspect it and set ``STATE.trouble`` to make a call
fail after doing its work ("lost": HTTP 500, so the caller cannot know) or answer a code.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import uuid
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError, SubElement, fromstring, tostring

from flask import Blueprint, Flask, Response, current_app, request

from referrals.core.guards import BASIC_AUTH_BLUEPRINTS
from referrals.extensions import csrf
from referrals.ncmec.xml import SCHEMA_PATH, schema

SANDBOX_PREFIX = "/ncmec-sandbox/ispws"
LABEL = "Referrals CyberTipline SANDBOX (not NCMEC: nothing here reaches NCMEC)"
MESSAGES = {0: "Success", 1000: "Server error", 2000: "Authentication required",
            4000: "Invalid request", 4100: "Validation failed", 4110: "Malformed XML submittal",
            4200: "Malformed file submittal", 5001: "Report does not exist",
            5002: "File does not exist", 5101: "Report already retracted",
            5102: "Report already finished"}


@dataclass
class SandboxReport:
    report_id: int
    xml: bytes
    files: dict[str, dict] = field(default_factory=dict)  # file id → name, md5, details
    state: str = "open"  # open, finished, retracted


class SandboxState:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.reports: dict[int, SandboxReport] = {}
        self.calls: list[tuple[str, str]] = []  # (endpoint, Request-ID)
        # (endpoint, n-th call) → "lost" (do the work, then drop the connection) or a code
        self.trouble: dict[tuple[str, int], object] = {}
        self.counts: dict[str, int] = {}
        self._ids = itertools.count(4564654)

    def next_id(self) -> int:
        return next(self._ids)


STATE = SandboxState()


class AnswerLost(Exception):
    """The sandbox did the work and the answer never leaves (a dropped connection)."""


bp = Blueprint("ncmec_sandbox", __name__, url_prefix=SANDBOX_PREFIX)


def _answer(code: int, *, report_id: int | None = None, file_id: str | None = None,
            md5: str | None = None, status: int = 200, description: str | None = None
            ) -> Response:
    root = Element("reportResponse")
    SubElement(root, "responseCode").text = str(code)
    SubElement(root, "responseDescription").text = description or MESSAGES.get(code, "Error")
    if report_id is not None:
        SubElement(root, "reportId").text = str(report_id)
    if file_id is not None:
        SubElement(root, "fileId").text = file_id
    if md5 is not None:
        SubElement(root, "hash").text = md5
    return _xml(root, status)


def _xml(root: Element, status: int = 200) -> Response:
    body = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + tostring(
        root, encoding="unicode")
    return Response(body, status=status, content_type="application/xml; charset=utf-8")


@bp.before_request
def _authenticate():
    endpoint = request.endpoint.rsplit(".", 1)[-1] if request.endpoint else ""
    with STATE.lock:
        STATE.counts[endpoint] = STATE.counts.get(endpoint, 0) + 1
        trouble = STATE.trouble.pop((endpoint, STATE.counts[endpoint]), None)
    request.environ["ncmec_sandbox.trouble"] = trouble
    username, password = current_app.config.get("NCMEC_SANDBOX_CREDENTIALS", ("", ""))
    auth = request.authorization
    if auth is None or not auth.username or (
            username and (auth.username, auth.password) != (username, password)):
        response = _answer(2000, status=401)
        response.headers["WWW-Authenticate"] = 'Basic realm="CyberTipline sandbox"'
        return response
    if isinstance(trouble, int):
        return _answer(trouble, status=200)
    return None


@bp.after_request
def _label(response: Response) -> Response:
    request_id = uuid.uuid4().hex
    response.headers["Request-ID"] = request_id
    response.headers["X-Sandbox"] = LABEL
    with STATE.lock:
        STATE.calls.append((request.endpoint.rsplit(".", 1)[-1] if request.endpoint else "",
                            request_id))
    return response


def _lost_after_work() -> None:
    if request.environ.get("ncmec_sandbox.trouble") == "lost":
        raise AnswerLost()


def _report(form_id: str | None) -> SandboxReport | Response:
    try:
        report = STATE.reports.get(int(form_id or ""))
    except ValueError:
        report = None
    if report is None:
        return _answer(5001)
    if report.state == "retracted":
        return _answer(5101, report_id=report.report_id)
    if report.state == "finished":
        return _answer(5102, report_id=report.report_id)
    return report


def _parse(root_tag: str) -> Element | Response:
    try:
        root = fromstring(request.get_data())
    except ParseError:
        return _answer(4110)
    if root.tag != root_tag:
        return _answer(4110, description=f"Malformed XML submittal: expected <{root_tag}>")
    errors = list(schema().iter_errors(request.get_data(as_text=True)))
    if errors:
        return _answer(4100, description="Validation failed: " + "; ".join(
            f"{e.path}: {e.reason}" for e in errors[:5]))
    return root


@bp.get("/status")
def status():
    return _answer(0, description=f"Remote User : {request.authorization.username}, "
                                  f"Remote Ip : {request.remote_addr} ({LABEL})")


@bp.get("/xsd")
def xsd():
    return Response(SCHEMA_PATH.read_bytes(), content_type="application/xml")


@bp.post("/submit")
def submit():
    root = _parse("report")
    if isinstance(root, Response):
        return root
    with STATE.lock:
        report = SandboxReport(report_id=STATE.next_id(), xml=request.get_data())
        STATE.reports[report.report_id] = report
    _lost_after_work()
    return _answer(0, report_id=report.report_id)


@bp.post("/upload")
def upload():
    report = _report(request.form.get("id"))
    if isinstance(report, Response):
        return report
    upload = request.files.get("file")
    if upload is None:
        return _answer(4200)
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in iter(lambda: upload.stream.read(1 << 20), b""):
        digest.update(chunk)
    file_id = uuid.uuid4().hex
    with STATE.lock:
        report.files[file_id] = {"name": upload.filename, "md5": digest.hexdigest(),
                                 "details": None}
    _lost_after_work()
    return _answer(0, report_id=report.report_id, file_id=file_id, md5=digest.hexdigest())


@bp.post("/fileinfo")
def fileinfo():
    root = _parse("fileDetails")
    if isinstance(root, Response):
        return root
    report = _report(root.findtext("reportId"))
    if isinstance(report, Response):
        return report
    entry = report.files.get(root.findtext("fileId") or "")
    if entry is None:
        return _answer(5002, report_id=report.report_id)
    if entry["details"] is not None:
        return _answer(4000, report_id=report.report_id,
                       description="Invalid request: file details were already given")
    entry["details"] = request.get_data()
    _lost_after_work()
    return _answer(0, report_id=report.report_id)


@bp.post("/finish")
def finish():
    report = _report(request.form.get("id"))
    if isinstance(report, Response):
        return report
    report.state = "finished"
    _lost_after_work()
    root = Element("reportDoneResponse")
    SubElement(root, "responseCode").text = "0"
    SubElement(root, "reportId").text = str(report.report_id)
    files = SubElement(root, "files")
    for file_id in report.files:
        SubElement(files, "fileId").text = file_id
    return _xml(root)


@bp.post("/retract")
def retract():
    report = _report(request.form.get("id"))
    if isinstance(report, Response):
        return report
    report.state = "retracted"
    _lost_after_work()
    return _answer(0, report_id=report.report_id)


def install(app: Flask) -> None:
    """Serve the sandbox inside the app (development and tests; never production)."""
    settings = app.config["REFERRALS_SETTINGS"]
    if settings.environment == "production" or not settings.ncmec_sandbox:
        return
    app.config["NCMEC_SANDBOX_CREDENTIALS"] = (settings.ncmec_username, settings.ncmec_password)
    BASIC_AUTH_BLUEPRINTS.add(bp.name)  # it checks its own credentials, like NCMEC
    csrf.exempt(bp)
    app.register_blueprint(bp)


def sandbox_app(username: str = "", password: str = "") -> Flask:
    """Only the sandbox, for a test server on loopback."""
    app = Flask("ncmec_sandbox")
    app.config["NCMEC_SANDBOX_CREDENTIALS"] = (username, password)
    app.register_blueprint(bp)
    return app
