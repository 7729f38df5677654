"""Issue 15, done when: a compliance reviewer can read all of this and change nothing but QA
findings. Read off the route × role grid (tests/test_route_grid.py, where every cell is a real
request): of every endpoint that changes something, the compliance reviewer is let through only
to QA's, to signing in and out, and to their own password and authenticator."""

from __future__ import annotations

from tests.test_route_grid import COMPL, EXPECTED

# What any signed-in person does for themselves (Flask-Security's own endpoints).
OWN_ACCOUNT = {"security.login", "security.logout", "security.change_password",
               "security.verify", "security.two_factor_setup",
               "security.two_factor_setup_validate", "security.two_factor_token_validation"}
# The portal's public registration form, which shows to anyone (the grid's cell is its GET).
PUBLIC = {"portal_public.register"}
# Checking, not changing: a verification of the audit chain started from the audit page (it
# reads the chain and records the job's progress).
CHECKS = {"audit.verify"}
QA_STEPS = {"qa.draw", "qa.record_finding", "qa.mark_reviewed"}
READS = {"compliance.transparency", "compliance.transparency_pdf", "compliance.transparency_csv",
         "compliance.disclosure_log_page", "compliance.disclosure", "compliance.disclosures_csv",
         "compliance.disclosures_json", "qa.index", "qa.draw_detail", "qa.sample", "qa.finding",
         "oversight.index", "audit.index"}


def writes(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if rule.methods & {"POST", "PUT", "PATCH", "DELETE"}}


def test_compliance_changes_nothing_but_qa(app):
    let_through = {endpoint for endpoint in writes(app)
                   if EXPECTED[endpoint][COMPL] not in (401, 403, 404)}
    assert let_through - OWN_ACCOUNT - PUBLIC - CHECKS == QA_STEPS


def test_compliance_reads_the_disclosure_log_the_report_and_the_dashboard():
    assert {endpoint for endpoint in READS if EXPECTED[endpoint][COMPL] != 200} == set()
