"""Request ids and the security headers every response carries."""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


def assign_request_id():
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def add_security_headers(response):
    response.headers["X-Request-ID"] = g.get("request_id", "")
    # A view may set a stricter policy of its own (evidence bytes: sandboxed, nothing allowed).
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # same-origin, not no-referrer: Flask-WTF checks the Referer of HTTPS form posts.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    # Behind a proxy this is the original scheme (ProxyFix, REFERRALS_TRUSTED_PROXIES).
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if request.endpoint != "static":
        # Pages, API answers and even the sign-in page hold or lead to sensitive data:
        # no cache keeps them. (Set for everyone, so this never asks who is signed in:
        # that would load the user, and with it the body, after the response is made.)
        response.headers["Cache-Control"] = "no-store"
    return response


def init_headers(app: Flask) -> None:
    proxies = app.config["REFERRALS_SETTINGS"].trusted_proxies
    if proxies:
        # Only as many X-Forwarded-* hops as there are proxies we run are believed; the
        # client address in audit rows and rate-limit keys is then the real one.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,
                                x_host=proxies, x_port=proxies)
    app.before_request(assign_request_id)
    app.after_request(add_security_headers)
