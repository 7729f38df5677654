"""Issue 15: the transparency report of a half-year, every number checked against a known
history; its CSV columns pinned; its page, PDF and command."""

from __future__ import annotations

import csv
import io
import subprocess

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.compliance import cli as transparency_cli
from referrals.compliance.transparency import TABLES, build_report, parse_period
from referrals.compliance.transparency_export import table_csv
from referrals.core.errors import InvalidInput
from referrals.extensions import db
from tests.compliance.history import EXPECTED, build_history

# The published column names: scripts read these files by them. Change only by adding at the
# end, and then here.
PINNED_COLUMNS = {
    "summary": [
        "period", "countries", "legal_requests", "emergency_requests", "total_requests",
        "total_accounts_specified", "total_requests_some_data_disclosed",
        "total_share_some_data_disclosed", "preservation_requests",
        "requests_with_nondisclosure_order", "user_notices_given", "cybertipline_reports",
        "cybertipline_cases_reported"],
    "requests_by_country": [
        "period", "country", "legal_requests", "legal_accounts_specified",
        "legal_requests_some_data_disclosed", "legal_share_some_data_disclosed",
        "emergency_requests", "emergency_accounts_specified",
        "emergency_requests_some_data_disclosed", "emergency_share_some_data_disclosed",
        "total_requests", "total_accounts_specified", "total_requests_some_data_disclosed",
        "total_share_some_data_disclosed"],
    "legal_process_by_type": [
        "period", "country", "legal_process_type", "legal_process_label", "requests",
        "accounts_specified", "requests_some_data_disclosed", "share_some_data_disclosed"],
    "preservation_by_country": [
        "period", "country", "preservation_requests", "renewal_requests", "accounts_specified",
        "holds_placed"],
    "user_notice_by_country": [
        "period", "country", "requests", "requests_with_nondisclosure_order",
        "share_with_nondisclosure_order", "nondisclosure_orders_without_end_date",
        "user_notices_given"],
}


@pytest.fixture
def history(app):
    return build_history()


def test_every_number_of_the_report_matches_the_known_history(history):
    report = build_report(parse_period("2026-H2"))
    assert set(report.tables) == set(EXPECTED)
    for table, rows in EXPECTED.items():
        assert report.rows(table) == rows, table


def test_the_half_year_before_counts_only_its_own_requests(history):
    report = build_report(parse_period("2026-H1"))
    by_country = {row["country"]: row for row in report.rows("requests_by_country")}
    # The subpoena received one second before midnight and the French request
    assert set(by_country) == {"FR", "US"}
    assert by_country["US"]["legal_requests"] == 1
    assert by_country["US"]["legal_requests_some_data_disclosed"] == 1
    assert by_country["FR"]["legal_requests"] == 1
    assert report.summary["cybertipline_reports"] == 1
    assert report.summary["user_notices_given"] == 0


def test_the_csv_columns_are_pinned():
    assert {name: list(columns) for name, columns in TABLES.items()} == PINNED_COLUMNS


def test_each_table_is_one_csv_file_with_its_columns_and_every_row(history):
    report = build_report(parse_period("2026-H2"))
    for table, rows in EXPECTED.items():
        read = list(csv.DictReader(io.StringIO(table_csv(report, table))))
        assert list(read[0]) == PINNED_COLUMNS[table]
        assert read == [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows]


@pytest.mark.parametrize("text", ["2026", "2026-H3", "2026-Q1", "H2-2026", "1999-H1", ""])
def test_a_period_that_is_not_a_half_year_is_refused_in_plain_words(text):
    with pytest.raises(InvalidInput) as refused:
        parse_period(text)
    assert "YYYY-H1" in refused.value.message or "year from" in refused.value.message


def test_the_periods_bounds_are_utc_half_years():
    period = parse_period("2026-h2")
    assert (period.key, period.start.isoformat(), period.end.isoformat()) == (
        "2026-H2", "2026-07-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00")
    assert period.label == "1 July – 31 December 2026"


def test_the_command_writes_one_csv_per_table_and_audits_it(app, history, tmp_path):
    runner = CliRunner()
    with app.app_context():
        result = runner.invoke(transparency_cli.cli, ["--period", "2026-H2", "--format", "csv",
                                                      "--out", str(tmp_path)],
                               catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "11 requests from 3 countries" in result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f"transparency-2026-H2-{t}.csv" for t in TABLES)
    text = (tmp_path / "transparency-2026-H2-requests_by_country.csv").read_text()
    assert text.splitlines()[0] == ",".join(PINNED_COLUMNS["requests_by_country"])
    assert text.splitlines()[3].startswith("2026-H2,US,4,7,3,75.0,2,3,1,50.0,6,10,4,66.7")
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "transparency.exported")).all()[-1]
    assert event.object_id == "2026-H2" and event.actor_kind == "system"


def test_the_command_refuses_a_bad_period_with_a_message(app, tmp_path):
    with app.app_context():
        result = CliRunner().invoke(transparency_cli.cli, ["--period", "2026-H7", "--out",
                                                           str(tmp_path)])
    assert result.exit_code == 1
    assert "YYYY-H1 or YYYY-H2" in result.output
    assert "Traceback" not in result.output


def test_the_pdf_has_the_charts_and_the_numbers(app, history, tmp_path):
    with app.app_context():
        result = CliRunner().invoke(transparency_cli.cli, ["--period", "2026-H2", "--format",
                                                           "pdf", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "transparency-2026-H2.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Transparency report 2026-H2" in text
    assert "Requests for user data by country" in text
    assert "Preservation requests by country" in text
    assert "66.7%" in text  # a bar's label in the chart: drawn, not dropped
    assert "requests_by_country" in text or "Requests for user data by country" in text


def test_compliance_and_supervisors_read_the_page_with_charts_beside_tables(history, client,
                                                                           as_role):
    as_role("compliance")
    page = client.get("/compliance/transparency?period=2026-H2")
    assert page.status_code == 200
    html = page.text
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 4
    assert 'role="img"' in html and "<title id=\"chart-requests-title\">" in html
    assert html.count('class="table figure-table"') == 4
    assert "<script>" not in html and "style=" not in html  # CSP: no inline script or style
    assert 'href="/compliance/transparency/2026-H2/requests_by_country.csv"' in html


def test_a_bad_period_on_the_page_is_a_plain_message(client, as_role):
    as_role("supervisor")
    page = client.get("/compliance/transparency?period=2026-H9")
    assert page.status_code == 422
    assert "YYYY-H1 or YYYY-H2" in page.text


def test_a_table_downloads_as_csv_and_an_unknown_one_is_not_found(history, client, as_role):
    as_role("compliance")
    response = client.get("/compliance/transparency/2026-H2/preservation_by_country.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    body = response.data.decode("utf-8-sig")
    assert body.splitlines()[1] == "2026-H2,DE,1,0,2,1"
    assert client.get("/compliance/transparency/2026-H2/passwords.csv").status_code == 404


def test_the_api_spec_says_which_periods_the_report_takes():
    import re

    from referrals.compliance.api import PERIOD_SPEC

    for year in (2000, 2026, 2199):
        for half in ("H1", "H2", "h2"):
            text = f"{year}-{half}"
            assert re.match(PERIOD_SPEC, text)
            assert parse_period(text).key == text.upper()
    for text in ("1999-H2", "2200-H1", "2026-H3"):
        assert not re.match(PERIOD_SPEC, text)
        with pytest.raises(InvalidInput):
            parse_period(text)
