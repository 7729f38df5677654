"""Sending a CyberTipline report as a remote operation (``referrals.remote``), one recorded
step at a time: submit → opened (the report id kept) → upload* → fileinfo* → finish →
finished (status, custody, the 1-year hold); and retract → retracted.

A crash between steps resumes at the next one. A step that may have reached NCMEC with its
answer lost (submit, upload, fileinfo, finish) is never repeated blindly: NCMEC offers no
way to ask, so the operation stops as *needs_check* until a person checks with NCMEC
(``flask work resolve``). The local steps (opened, finished, retracted) only write here and
are safe to run again. A retract that is repeated gets "already retracted" (5101), which
is what was wanted.
"""

from __future__ import annotations

import tempfile
from datetime import datetime

from referrals.core.clock import now
from referrals.core.identity import system_identity
from referrals.core.storage import get_store
from referrals.core.transaction import commit
from referrals.ncmec import client, services
from referrals.ncmec.client import NcmecRefused
from referrals.ncmec.xml import FileValues, build_file_details, to_xml, validate
from referrals.remote.operations import (OperationKind, StepCall, StepKind, StepResult,
                                         register)

ACTOR = system_identity("job:ncmec report")


def _plan(payload: dict) -> list[tuple[str, dict]]:
    files = payload["files"]
    return ([("submit", {}), ("opened", {})]
            + [("upload", {"evidence_id": f["evidence_id"]}) for f in files]
            + [("fileinfo", {"evidence_id": f["evidence_id"]}) for f in files]
            + [("finish", {}), ("finished", {})])


def _file(call: StepCall) -> dict:
    return next(f for f in call.payload["files"]
                if f["evidence_id"] == call.arguments["evidence_id"])


def _submit(call: StepCall) -> StepResult:
    answer = client.submit(call.payload["report_xml"].encode("utf-8"))
    report_id = answer.text("reportId")
    if not report_id:
        raise NcmecRefused("NCMEC accepted the report without giving its id.", code=0,
                           status=answer.status, request_id=answer.request_id)
    return StepResult({"reportId": report_id, "responseCode": 0}, answer.request_id,
                      {"report_id": report_id})


def _opened(call: StepCall) -> StepResult:
    services.record_opened(ACTOR, call.payload["report"], call.remote_ids["report_id"])
    commit()
    return StepResult({"recorded": True})


def _upload(call: StepCall) -> StepResult:
    file = _file(call)
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        for chunk in get_store().read(file["storage_name"]):
            spool.write(chunk)
        spool.seek(0)
        answer = client.upload(call.remote_ids["report_id"], file["name"], spool,
                               file["mime_type"])
    file_id, md5 = answer.text("fileId"), (answer.text("hash") or "").lower()
    if not file_id:
        raise NcmecRefused("NCMEC took the file without giving its id.", code=0,
                           status=answer.status, request_id=answer.request_id)
    if md5 != file["md5"]:
        raise NcmecRefused(f"NCMEC received {file['name']} with MD5 {md5 or 'none'}, not "
                           f"{file['md5']}: the file arrived damaged. Retract the report and "
                           "send it again.", code=0, status=answer.status,
                           request_id=answer.request_id)
    return StepResult({"fileId": file_id, "hash": md5}, answer.request_id,
                      {f"file:{file['evidence_id']}": file_id})


def file_details_xml(file: dict, report_id: str, file_id: str) -> bytes:
    values = FileValues(
        report_id=int(report_id), file_id=file_id, original_name=file["name"],
        location=file.get("url"), viewed_by_person=bool(file["viewed"]),
        hashes=[("MD5", file["md5"]), ("SHA1", file["sha1"]), ("SHA256", file["sha256"])],
        additional_info=(f"Viewed here by a person ({file.get('viewers', 1)} reviewer(s))."
                         if file["viewed"] else
                         "No person at the platform viewed this file; it was identified by "
                         "automated detection or received as is."))
    details = build_file_details(values)
    validate(details, now())
    return to_xml(details)


def _fileinfo(call: StepCall) -> StepResult:
    file = _file(call)
    file_id = call.remote_ids[f"file:{file['evidence_id']}"]
    answer = client.fileinfo(file_details_xml(file, call.remote_ids["report_id"], file_id))
    return StepResult({"fileId": file_id, "responseCode": 0}, answer.request_id)


def _finish(call: StepCall) -> StepResult:
    answer = client.finish(call.remote_ids["report_id"])
    files = [f.text for f in answer.root.findall("files/fileId")]
    finished_at = now().isoformat()
    return StepResult({"reportId": answer.text("reportId"), "files": files,
                       "finished_at": finished_at}, answer.request_id,
                      {"finished_at": finished_at})


def _finished(call: StepCall) -> StepResult:
    file_ids = {key.split(":", 1)[1]: value for key, value in call.remote_ids.items()
                if key.startswith("file:")}
    completed = call.remote_ids.get("finished_at")
    hold = services.record_finished(
        ACTOR, call.payload["report"], call.remote_ids["report_id"],
        datetime.fromisoformat(completed) if completed else now(), file_ids,
        released_by=call.payload.get("released_by"))
    commit()
    return StepResult({"hold": hold})


SEND = register(OperationKind(
    name=services.SUBMIT_KIND, plan=_plan,
    steps={"submit": StepKind(run=_submit),
           "opened": StepKind(run=_opened, repeatable=True),
           "upload": StepKind(run=_upload),
           "fileinfo": StepKind(run=_fileinfo),
           "finish": StepKind(run=_finish),
           "finished": StepKind(run=_finished, repeatable=True)},
    max_attempts=6))


def _retract(call: StepCall) -> StepResult:
    try:
        answer = client.retract(call.payload["report_id"])
    except NcmecRefused as error:
        if error.code == 5101:  # already retracted: a repeat after a lost answer
            return StepResult({"responseCode": 5101}, error.request_id)
        raise
    return StepResult({"responseCode": 0}, answer.request_id)


def _retracted(call: StepCall) -> StepResult:
    services.record_retracted(ACTOR, call.payload["report"])
    commit()
    return StepResult({"recorded": True})


RETRACT = register(OperationKind(
    name=services.RETRACT_KIND, plan=lambda payload: [("retract", {}), ("retracted", {})],
    steps={"retract": StepKind(run=_retract, repeatable=True),
           "retracted": StepKind(run=_retracted, repeatable=True)},
    max_attempts=6))
