"""The app factory, on top of every feature: it wires each feature's pages, API, commands and
jobs into one Flask app."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, make_response, redirect, request, url_for
from flask_login import current_user

import referrals.jobs  # noqa: F401  (declares every task before binding)
from config import ConfigError, Settings, load_settings
from referrals import models  # noqa: F401  (before Flask-Security and migrations look)
from referrals.accounts import cli as accounts_cli
from referrals.agencies import cli as agencies_cli
from referrals.accounts.officer_views import bp as officers_bp
from referrals.agencies.directory_views import bp as directory_bp
from referrals.accounts.sign_in import init_sign_in
from referrals.accounts.staff_views import bp as accounts_bp
from referrals.agencies.staff_views import bp as agencies_bp
from referrals.audit import api as audit_api
from referrals.audit import cli as audit_cli
from referrals.audit.staff_views import bp as audit_bp
from referrals.cases import api as cases_api
from referrals.cases.staff_views import bp as cases_bp
from referrals.compliance import api as compliance_api
from referrals.compliance import cli as transparency_cli
from referrals.compliance.qa_views import bp as qa_bp
from referrals.compliance.staff_views import bp as compliance_bp
from referrals.core.api import init_api_docs, init_token_authentication
from referrals.core.display import register_filters
from referrals.core import form_html
from referrals.core.bookkeeping import NoteNotWritten, write_notes
from referrals.core.errors import InvalidInput, register_error_handlers, render_error
from referrals.core.guards import init_guards
from referrals.core.headers import init_headers
from referrals.core.inputs import init_inputs
from referrals.core.leases import periodic_guard
from referrals.core.signing import SigningKeyError, init_signing
from referrals.core.sqlite import configure_sqlite
from referrals.core.transaction import finish, unit_of_work
from referrals.accounts.sessions import init_sessions
from referrals.dashboard.oversight_views import bp as oversight_bp
from referrals.dashboard.staff_views import bp as dashboard_bp
from referrals.demo import cli as demo_cli
from referrals.evidence import api as evidence_api
from referrals.evidence.staff_views import bp as evidence_bp
from referrals.extensions import api, csrf, db, jobs, limiter, migrate
from referrals.holds import api as holds_api
from referrals.holds import for_requests
from referrals.holds import cli as holds_cli
from referrals.holds.portal_views import bp as portal_holds_bp
from referrals.holds.report_views import bp as hold_reports_bp
from referrals.holds.staff_views import bp as holds_bp
from referrals.ncmec import cli as ncmec_cli
from referrals.ncmec import sandbox as ncmec_sandbox
from referrals.ncmec.staff_views import bp as ncmec_bp
from referrals.operations import cli as backup_cli
from referrals.operations import housekeeping, storage_cli
from referrals.operations.health import init_health
from referrals.operations.logs import init_logs
from referrals.operations.metrics import init_metrics
from referrals.outbound import api as outbound_api
from referrals.outbound.portal_views import bp as outbound_portal_bp
from referrals.outbound.staff_views import bp as outbound_bp
from referrals.portal.portal_views import bp as portal_bp
from referrals.packages import api as packages_api
from referrals.packages import cli as packages_cli
from referrals.packages import portal_views as package_portal
from referrals.packages import staff_views as package_staff
from referrals.packages.recipients import escrow_recipient
from referrals.remote import cli as work_cli
from referrals.portal.public_views import bp as portal_public_bp
from referrals.requests import api as requests_api
from referrals.requests import preservation
from referrals.requests.canned_views import bp as canned_texts_bp
from referrals.requests.staff_views import bp as requests_bp
from referrals.emergency.staff_views import bp as emergency_bp
from referrals.search import staff_views as search_staff
from referrals.retention import cli as retention_cli
from referrals.tokens import cli as tokens_cli
from referrals.tokens.services import authenticate as authenticate_token
from referrals.tokens.staff_views import bp as tokens_bp

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


def _init_signing(app: Flask, settings: Settings) -> None:
    if settings.signing_key_path is None:
        raise ConfigError("REFERRALS_SIGNING_KEY_FILE (the platform's signing key) is not set.")
    try:
        init_signing(app, settings.signing_key_path, create=settings.signing_key_generate,
                     retired=settings.signing_retired_keys)
    except SigningKeyError as error:
        raise ConfigError(f"The platform's signing key cannot be used: {error}.") from error


def _check_package_escrow(settings: Settings) -> None:
    try:
        escrow_recipient(settings.package_escrow_recipient)
    except InvalidInput as error:
        raise ConfigError(error.message) from None


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(
        __name__,
        instance_path=str(settings.instance_path),
        template_folder=str(ROOT / "templates"),
    )
    app.config.update(settings.flask_config())
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    _init_signing(app, settings)
    _check_package_escrow(settings)
    init_logs(app)

    db.init_app(app)
    if settings.is_sqlite:
        with app.app_context():
            configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    jobs.init_app(app, unit_of_work, periodic_guard)
    api.init_app(app)

    form_html.install()
    init_headers(app)
    init_inputs(app)
    init_sign_in(app)
    init_sessions(app)
    init_guards(app)
    register_error_handlers(app)
    preservation.register(for_requests.HOOKS)

    @app.after_request
    def commit_request(response):
        # One commit per request: only when the view returned normally and nothing was
        # refused (error pages and refusals shown as messages mark the request refused).
        finish(ended_normally=response.status_code < 500)
        # Then what the request noted about itself (a token's last use, views of sensitive
        # pages), in a short transaction of its own: referrals.core.bookkeeping.
        try:
            write_notes(shown=response.status_code < 400)
        except NoteNotWritten:
            log.exception("the request's audit record could not be written: %s", request.path)
            return make_response(render_error(
                503, "Not shown", "This page could not be recorded in the audit log, so it is "
                "not shown. Try again in a moment; if it happens again, tell the on-call "
                "engineer."))
        return response

    @app.teardown_request
    def roll_back_unfinished(error):
        # An exception no handler turned into a response never reached ``commit_request``.
        if error is not None:
            finish(ended_normally=False)

    init_health(app)
    init_metrics(app)

    @app.get("/")
    def home():
        if current_user.kind == "agency":
            return redirect(url_for("portal.index"))
        return redirect(url_for("dashboard.index"))

    app.register_blueprint(dashboard_bp)
    app.register_blueprint(oversight_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(officers_bp)
    app.register_blueprint(directory_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(portal_bp)

    app.register_blueprint(cases_bp)
    app.register_blueprint(evidence_bp)
    app.register_blueprint(tokens_bp)
    app.register_blueprint(agencies_bp)
    app.register_blueprint(portal_public_bp)
    app.register_blueprint(requests_bp)
    app.register_blueprint(emergency_bp)
    app.register_blueprint(canned_texts_bp)

    app.register_blueprint(holds_bp)
    app.register_blueprint(hold_reports_bp)
    app.register_blueprint(portal_holds_bp)
    app.register_blueprint(ncmec_bp)
    app.register_blueprint(outbound_bp)
    app.register_blueprint(compliance_bp)
    app.register_blueprint(qa_bp)
    ncmec_sandbox.install(app)  # development and tests only; labelled; never production
    app.register_blueprint(package_staff.bp)
    app.register_blueprint(package_portal.bp)
    app.register_blueprint(outbound_portal_bp)
    package_staff.register_panels(app)
    package_portal.register_panels(app)
    app.register_blueprint(search_staff.bp)
    search_staff.register_panels(app)

    init_api_docs(api)
    init_token_authentication(app, authenticate_token)
    cases_api.register(api)
    evidence_api.register(api)
    requests_api.register(api)
    holds_api.register(api)
    packages_api.register(api)
    outbound_api.register(api)
    compliance_api.register(api)
    audit_api.register(api)

    for group in (accounts_cli, agencies_cli, audit_cli, demo_cli, holds_cli, retention_cli, tokens_cli,
                  work_cli, ncmec_cli, packages_cli, backup_cli, storage_cli, housekeeping):
        app.cli.add_command(group.cli)
    app.cli.add_command(transparency_cli.cli)
    app.cli.add_command(transparency_cli.qa_cli)

    register_filters(app)
    return app
