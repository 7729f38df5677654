"""The JSON API's own guard: bearer tokens with scopes, no cookies, no CSRF.

Every API blueprint is made by ``api_blueprint`` so that it authenticates every
request before any view runs; a token's identity then acts exactly as its user,
limited to the token's scopes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, current_app, g, jsonify, request
from flask_smorest import Blueprint

from referrals.core.guards import TOKEN_BLUEPRINTS
from referrals.core.identity import Identity
from referrals.extensions import csrf

BEARER = {"bearerAuth": []}
AUTHENTICATOR = "referrals_token_authenticator"


def _json_error(status: int, title: str, message: str, **headers):
    response = jsonify(code=status, status=title, message=message)
    response.status_code = status
    response.headers.update(headers)
    return response


def init_token_authentication(app: Flask, authenticate: Callable[[str], Any]) -> None:
    """Who turns a bearer secret into a token (``referrals.tokens.services.authenticate``,
    handed in by the app factory: tokens sit above core)."""
    app.extensions[AUTHENTICATOR] = authenticate


def authenticate_token():
    authenticate = current_app.extensions[AUTHENTICATOR]
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return _json_error(401, "Token required", "Send an API token: Authorization: Bearer <token>.",
                           **{"WWW-Authenticate": "Bearer"})
    token = authenticate(secret.strip())
    if token is None:
        return _json_error(401, "Token refused",
                           "The token is unknown, expired or revoked, or its account is disabled.",
                           **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
    g.api_identity = Identity.for_token(token)
    return None


def api_blueprint(name: str, import_name: str, *, url_prefix: str, description: str) -> Blueprint:
    bp = Blueprint(name, import_name, url_prefix=url_prefix, description=description)
    bp.before_request(authenticate_token)
    csrf.exempt(bp)
    TOKEN_BLUEPRINTS.add(name)
    return bp


def require_scope(scope: str) -> Callable:
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            identity = g.get("api_identity")
            if identity is None or not identity.has_scope(scope):
                return _json_error(403, "Scope missing", f"This token does not have the {scope} scope.")
            return view(*args, **kwargs)

        wrapper.required_scope = scope
        return wrapper

    return decorate


def init_api_docs(api) -> None:
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
