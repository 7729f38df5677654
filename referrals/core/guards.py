"""Deny by default.

Every endpoint needs a signed-in user except the short list in PUBLIC_ENDPOINTS.
Staff pages, the agency portal and the API are separate blueprints, each made by
a factory here that installs its own guard, so a new view is protected before
anybody remembers to protect it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Blueprint, Flask, abort, jsonify, redirect, request, url_for
from flask_login import current_user

from referrals.core.errors import PermissionDenied

AGENCY_SUSPENDED_MESSAGE = (
    "Your agency's access to the portal and the API is suspended. Contact the LER team."
)

# Reachable without signing in. Keep this list short and named.
PUBLIC_ENDPOINTS = frozenset(
    {
        "static",
        "security.login",
        "security.logout",
        "security.two_factor_token_validation",
        "security.two_factor_setup",
        "api-docs.openapi_json",
        "health",
        "ready",
        "metrics",  # checks its own bearer token (REFERRALS_METRICS_TOKEN)
        "portal_public.register",
        "portal_public.confirm",
        "portal_public.reconfirm",
    }
)
# Flask-Security registers these, but with TOTP as the only second factor they serve
# nobody: /tf-rescue mails a "help" request to an address we do not configure, /tf-select
# picks among several second factors, /fs-static holds WebAuthn scripts. 404 for all.
UNREACHABLE_ENDPOINTS = frozenset(
    {"security.two_factor_rescue", "security.tf_select", "security.static"}
)
# Blueprints that authenticate every request themselves (API tokens; see core.api).
TOKEN_BLUEPRINTS: set[str] = set()
# Blueprints that check HTTP Basic credentials themselves, not API tokens: the CyberTipline
# sandbox (development and tests only, ncmec.sandbox), which answers like NCMEC's API.
BASIC_AUTH_BLUEPRINTS: set[str] = set()
# Reachable while a password change is pending.
PASSWORD_CHANGE_ENDPOINTS = frozenset({"security.change_password", "security.logout", "static"})


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def require_sign_in():
    if request.endpoint in UNREACHABLE_ENDPOINTS:
        abort(404)
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.blueprint in TOKEN_BLUEPRINTS or request.blueprint in BASIC_AUTH_BLUEPRINTS:
        return None  # the blueprint's own guard demands a token (or Basic credentials)
    if not current_user.is_authenticated:
        if _wants_json():
            response = jsonify(code=401, status="Sign-in required",
                               message="Send a valid API token or sign in.")
            response.status_code = 401
            return response
        return redirect(url_for("security.login", next=request.full_path.rstrip("?")))
    if current_user.password_change_required and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        return redirect(url_for("security.change_password"))
    return None


def init_guards(app: Flask) -> None:
    app.before_request(require_sign_in)


def staff_blueprint(name: str, import_name: str, **kwargs) -> Blueprint:
    """A blueprint of staff pages: agency users get 404, as if nothing were here."""
    bp = Blueprint(name, import_name, **kwargs)

    @bp.before_request
    def staff_only():
        if not current_user.is_authenticated or current_user.kind != "staff":
            abort(404)

    return bp


def portal_blueprint(name: str, import_name: str, **kwargs) -> Blueprint:
    """A blueprint of portal pages: only agency officers; staff get 404."""
    bp = Blueprint(name, import_name, **kwargs)

    @bp.before_request
    def agency_only():
        if not current_user.is_authenticated or current_user.kind != "agency":
            abort(404)
        # A session that began before the agency was suspended reads and writes nothing.
        if current_user.agency_suspended:
            raise PermissionDenied(AGENCY_SUSPENDED_MESSAGE)

    return bp


def roles_required(*roles: str) -> Callable:
    """A staff view open to any of ``roles``; other staff get 403."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated or current_user.kind != "staff":
                abort(404)
            if not set(current_user.role_names).intersection(roles):
                abort(403)
            return view(*args, **kwargs)

        wrapper.required_roles = roles
        return wrapper

    return decorate
