"""JSON API of the audit log for compliance tooling (scope audit:read, compliance reviewers):
filtered pages, one event with its difference, streamed exports, and the chain's checks."""

from __future__ import annotations

from flask import Response, stream_with_context
from marshmallow import Schema, fields, validate

from referrals.audit import log, verification
from referrals.audit.difference import event_difference
from referrals.core.api import BEARER, api_blueprint, require_scope
from referrals.core.identity import current_identity
from referrals.core.progress import progress_json

audit_api = api_blueprint(
    "audit_api", __name__, url_prefix="/api/v1/audit",
    description="Read, export and verify the audit log (scope audit:read; compliance "
                "reviewers). Starting a verification changes nothing but its own progress.",
)


class AuditQuery(Schema):
    action = fields.String(load_default="", validate=validate.Length(max=log.MAX_TEXT),
                           metadata={"description": "The start of the action's name, e.g. case."})
    actor = fields.String(load_default="", validate=validate.Length(max=log.MAX_TEXT),
                          metadata={"description": "The actor's label exactly as recorded"})
    object_type = fields.String(load_default="", validate=validate.Length(max=log.MAX_TEXT))
    object_id = fields.String(load_default="", validate=validate.Length(max=log.MAX_TEXT))
    agency_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    date_from = fields.Date(load_default=None, metadata={"description": "UTC day, inclusive"})
    date_to = fields.Date(load_default=None, metadata={"description": "UTC day, inclusive"})


class PageQuery(AuditQuery):
    before = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**62),
                            metadata={"description": "Only events older than this seq "
                                      "(the previous page's next_before)"})
    limit = fields.Integer(load_default=log.PAGE_SIZE, validate=validate.Range(min=1, max=500))


class EventOut(Schema):
    seq = fields.Integer()
    occurred_at = fields.DateTime()
    actor_kind = fields.String()
    actor_id = fields.Integer(allow_none=True)
    actor = fields.String(attribute="actor_label")
    action = fields.String()
    object_type = fields.String(allow_none=True)
    object_id = fields.String(allow_none=True)
    agency_id = fields.Integer(allow_none=True)
    before = fields.String(allow_none=True, metadata={"description": "As stored (JSON text)"})
    after = fields.String(allow_none=True, metadata={"description": "As stored (JSON text)"})
    ip = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()


class EventPageOut(Schema):
    events = fields.List(fields.Nested(EventOut))
    next_before = fields.Integer(allow_none=True)


class ChangeOut(Schema):
    field = fields.String(attribute="name")
    title = fields.String()
    before = fields.String(metadata={"description": "Ids of people, agencies, cases and "
                                     "requests shown as their names"})
    after = fields.String()
    changed = fields.Boolean()


class EventDetailOut(Schema):
    event = fields.Nested(EventOut)
    agency = fields.String(allow_none=True)
    changes = fields.List(fields.Nested(ChangeOut))
    unchanged = fields.List(fields.Nested(ChangeOut))


class ProgressOut(Schema):
    state = fields.String()
    label = fields.String()
    done = fields.Integer()
    total = fields.Integer()
    percent = fields.Integer()
    message = fields.String()
    finished = fields.Boolean()


class ResultOut(Schema):
    at = fields.DateTime()
    by = fields.String()
    ok = fields.Boolean()
    checked = fields.Integer()
    checkpoints = fields.Integer()
    problem = fields.String()
    bad_seq = fields.Integer(allow_none=True)


class CheckpointOut(Schema):
    state = fields.String(metadata={"description": "ok | failed | missing | stale | none"})
    problem = fields.String()
    kept_in = fields.List(fields.String())
    seq = fields.Function(lambda s: s.checkpoint.seq if s.checkpoint else None)
    signed_at = fields.Function(lambda s: s.checkpoint.signed_at.isoformat()
                                if s.checkpoint else None)
    name = fields.Function(lambda s: s.checkpoint.name if s.checkpoint else None)


class IntegrityOut(Schema):
    progress = fields.Nested(ProgressOut)
    last_result = fields.Nested(ResultOut, allow_none=True)
    checkpoint = fields.Nested(CheckpointOut)


def _filters(query: dict) -> log.AuditFilters:
    fields_ = {k: v for k, v in query.items() if k in log.AuditFilters.__dataclass_fields__}
    return log.checked_filters(log.AuditFilters(**fields_))


def _integrity() -> dict:
    return {"progress": progress_json(verification.latest_verification()),
            "last_result": verification.last_result(),
            "checkpoint": verification.checkpoint_status()}


@audit_api.route("/events", methods=["GET"])
@require_scope("audit:read")
@audit_api.arguments(PageQuery, location="query")
@audit_api.response(200, EventPageOut)
@audit_api.doc(security=[BEARER])
def events(query):
    """Audit events matching the filters, newest first, a keyset page at a time"""
    page = log.event_page(current_identity(), _filters(query), before=query["before"],
                          size=query["limit"])
    return {"events": page.events, "next_before": page.next_before}


@audit_api.route("/events/<int:seq>", methods=["GET"])
@require_scope("audit:read")
@audit_api.response(200, EventDetailOut)
@audit_api.doc(security=[BEARER])
def event(seq: int):
    """One audit event and its field-by-field difference, names instead of ids"""
    found = log.get_event(current_identity(), seq)
    difference = event_difference(found)
    return {"event": found, "agency": difference.agency, "changes": difference.changes,
            "unchanged": difference.unchanged}


@audit_api.route("/export/<any(csv, json):fmt>", methods=["GET"])
@require_scope("audit:read")
@audit_api.arguments(AuditQuery, location="query")
@audit_api.doc(security=[BEARER], responses={"200": {
    "description": "The matching events, oldest first, streamed (CSV with pinned columns and "
                   "spreadsheet-safe cells, or one JSON object with an events array); the "
                   "X-Audit-Up-To-Seq header says how far the chain reached when it began",
    "content": {"text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}}}}})
def export(query, fmt: str):
    """Export the matching events (CSV or JSON, any size); audited"""
    made = log.export_events(current_identity(), _filters(query), fmt)
    return Response(stream_with_context(made.chunks), content_type=made.content_type, headers={
        "Content-Disposition": f'attachment; filename="{made.filename}"',
        "X-Audit-Up-To-Seq": str(made.up_to)})


@audit_api.route("/verification", methods=["GET"])
@require_scope("audit:read")
@audit_api.response(200, IntegrityOut)
@audit_api.doc(security=[BEARER])
def integrity():
    """The latest verification (progress, result) and the latest signed checkpoint"""
    log.audit_policy.require(current_identity(), "verify")
    return _integrity()


@audit_api.route("/verification", methods=["POST"])
@require_scope("audit:read")
@audit_api.response(202, IntegrityOut)
@audit_api.doc(security=[BEARER])
def start():
    """Start verifying the whole chain against its signed checkpoints (a background job;
    one already running is joined); poll GET /verification for its progress"""
    verification.start_verification(current_identity())
    return _integrity()


def register(api) -> None:
    api.register_blueprint(audit_api)
