"""The audit log, for compliance reviewers."""

from flask import render_template, request
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.inputs import int_arg
from referrals.extensions import db

bp = staff_blueprint("audit", __name__, url_prefix="/audit")
PAGE_SIZE = 50


@bp.get("/")
@roles_required("compliance")
def index():
    filters = {
        "action": request.args.get("action", "").strip(),
        "actor": request.args.get("actor", "").strip(),
        "object_type": request.args.get("object_type", "").strip(),
        "object_id": request.args.get("object_id", "").strip(),
    }
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE + 1)
    if filters["action"]:
        query = query.where(AuditEvent.action.startswith(filters["action"], autoescape=True))
    if filters["actor"]:
        query = query.where(AuditEvent.actor_label.contains(filters["actor"], autoescape=True))
    if filters["object_type"]:
        query = query.where(AuditEvent.object_type == filters["object_type"])
    if filters["object_id"]:
        query = query.where(AuditEvent.object_id == filters["object_id"])
    before = int_arg("before")
    if before:
        query = query.where(AuditEvent.seq < before)  # keyset: same cost on every page
    events = db.session.scalars(query).all()
    next_before = events[PAGE_SIZE - 1].seq if len(events) > PAGE_SIZE else None
    return render_template(
        "audit/index.html", events=events[:PAGE_SIZE], filters=filters, next_before=next_before
    )
