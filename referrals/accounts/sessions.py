"""Session lifetime, enforced on the server: 30 minutes idle, 12 hours in all.

The cookie's own expiry is only advice to the browser; a copied cookie is
refused here once either limit has passed.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, flash, jsonify, redirect, request, session, url_for
from flask_login import current_user
from flask_security import logout_user

from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.identity import Identity


def _parse(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def enforce_session_lifetime():
    if request.endpoint == "static" or not current_user.is_authenticated:
        return None
    settings = current_app.config["REFERRALS_SETTINGS"]
    moment = now()
    signed_in_at = _parse(session.get("signed_in_at"))
    last_seen_at = _parse(session.get("last_seen_at"))
    reason = None
    if signed_in_at is None or last_seen_at is None:
        reason = "no sign-in time"
    elif moment - signed_in_at > settings.session_absolute:
        reason = "12 hours since sign-in"
    elif moment - last_seen_at > settings.session_idle:
        reason = "30 minutes without activity"
    if reason is None:
        session["last_seen_at"] = moment.isoformat()
        return None

    user = current_user._get_current_object()
    record_event(Identity.for_user(user), "session.expired", object_type="user",
                 object_id=user.id, agency_id=user.agency_id, after={"reason": reason})
    logout_user()
    session.pop("signed_in_at", None)
    session.pop("last_seen_at", None)
    message = f"You were signed out ({reason}). Sign in again to continue."
    if request.path.startswith("/api/"):
        response = jsonify(code=401, status="Session expired", message=message)
        response.status_code = 401
        return response
    flash(message, "info")
    # A page the person was opening is where signing in again takes them back to
    # (Flask-Security only follows a ``next`` on this site).
    if request.method == "GET":
        return redirect(url_for("security.login", next=request.full_path.rstrip("?")))
    return redirect(url_for("security.login"))


def init_sessions(app: Flask) -> None:
    app.before_request(enforce_session_lifetime)
