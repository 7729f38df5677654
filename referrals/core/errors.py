"""Domain errors and the plain-language pages and JSON bodies shown for them.

Nobody ever sees a stack trace: every error becomes a short message that says
what happened and, where possible, what to do next.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, HTTPException

from referrals.core.transaction import refuse
from referrals.core.transaction import rollback

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the domain refused the action. The message is for the user."""

    status = 409
    title = "That cannot be done"

    def __init__(self, message: str, *, field: str | None = None,
                 errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        # Several fields at once (a form checked whole): field → its message.
        self.errors = errors


class InvalidInput(DomainError):
    status = 422
    title = "Please check what you entered"


class PermissionDenied(DomainError):
    status = 403
    title = "Not allowed"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class InputRefused(BadRequest):
    """A 400 whose description is the plain reason (the generic 400 text would not help)."""


PLAIN_MESSAGES = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Not allowed", "Your account does not have access to this page."),
    404: ("Not found", "There is nothing here, or you do not have access to it."),
    405: ("Not allowed", "That action is not available here."),
    413: ("Too large", "What you sent is larger than this system accepts."),
    422: ("Please check what you entered", "Some of what you sent was not valid."),
    429: ("Too many attempts", "Too many attempts in a short time. Wait a minute and try again."),
    500: ("Something went wrong", "The system could not finish this. Nothing was changed. "
          "Try again; if it happens again, tell the LER on-call."),
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def refused_by_database(error: IntegrityError) -> str:
    """A plain message naming the database rule that refused a write."""
    detail = " ".join(str(getattr(error, "orig", None) or error).split())[:300]
    return (f"The database refused to store this ({detail}). Nothing was changed. This is a "
            "fault on our side, not in what you sent: tell the LER on-call, quoting this "
            "message.")


def render_error(status: int, title: str, message: str, errors: dict | None = None):
    refuse()  # an error page never commits what the request had written
    rollback()
    if wants_json():
        body = {"code": status, "status": title, "message": message}
        if errors:
            body["errors"] = errors
        return jsonify(body), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        # Every field the refusal names (a form checked whole names several), not the first only.
        named = error.errors or ({error.field: error.message} if error.field else {})
        errors = {field: [message] for field, message in named.items()} or None
        return render_error(error.status, error.title, error.message, errors)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_error(
            400,
            "The form expired",
            "This form was open too long or was sent twice. Reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        title, message = PLAIN_MESSAGES.get(status, (error.name, error.description))
        if isinstance(error, InputRefused):
            message = error.description
        if status == 416:
            title, message = "Outside the file", error.description
        errors = None
        # flask-smorest puts marshmallow's field messages here.
        data = getattr(error, "data", None) or {}
        if isinstance(data, dict) and data.get("messages"):
            errors = data["messages"]
            message = "Some fields are missing or not valid; see errors."
        if status == 429:
            message = PLAIN_MESSAGES[429][1]
        response, status = render_error(status, title, message, errors)
        if status == 405:  # RFC 9110: a 405 names the methods that are allowed
            response = make_response(response, status)
            response.headers["Allow"] = ", ".join(getattr(error, "valid_methods", None) or ())
        if status == 416 and getattr(error, "length", None) is not None:
            # RFC 9110: a 416 names the length, so the client can ask again correctly
            response = make_response(response, status)
            response.headers["Content-Range"] = f"bytes */{error.length}"
        return response, status

    @app.errorhandler(IntegrityError)
    def integrity_error(error: IntegrityError):
        # Not bad input (that is refused before anything is written) but a fault: say which
        # rule of the database refused, so that whoever is called knows where to look.
        log.exception("the database refused a write on %s %s", request.method, request.path)
        return render_error(500, "Refused by the database", refused_by_database(error))

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        title, message = PLAIN_MESSAGES[500]
        return render_error(500, title, message)
