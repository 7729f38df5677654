"""The transparency report handed out: CSV (one file per table, the columns of
``transparency.TABLES``), a PDF with the page's charts (the locked WeasyPrint renderer), and
the charts themselves. Handing it out is audited (``transparency.exported``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from referrals.audit.services import record_event
from referrals.core.charts import Series, bar_chart
from referrals.compliance.transparency import (LEGAL_TYPES, TABLE_TITLES, TABLES,
                                               TransparencyReport)
from referrals.core.display import format_time
from referrals.core.errors import NotFound
from referrals.core.identity import Identity
from referrals.core.pdf import render_pdf
from referrals.requests.rules import REQUEST_TYPES

FORMATS = ("csv", "pdf")


def csv_name(report: TransparencyReport, table: str) -> str:
    return f"transparency-{report.period.key}-{table}.csv"


def pdf_name(report: TransparencyReport) -> str:
    return f"transparency-{report.period.key}.pdf"


def _cell(value) -> str:
    return "" if value is None else str(value)


def table_csv(report: TransparencyReport, table: str) -> str:
    """One table as CSV text: a header of the stable column names, then its rows."""
    if table not in TABLES:
        raise NotFound(f"The transparency report has no table called {table!r}.")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(TABLES[table])
    for row in report.rows(table):
        writer.writerow([_cell(row[column]) for column in TABLES[table]])
    return buffer.getvalue()


def figures(report: TransparencyReport) -> list[dict]:
    """The report's charts, each with the table of exactly its numbers (shown beside it)."""
    countries = report.rows("requests_by_country")
    labels = [row["country"] for row in countries]
    by_type: dict[str, dict[str, int]] = {}
    for row in report.rows("legal_process_by_type"):
        part = by_type.setdefault(row["legal_process_type"], {"requests": 0, "accounts": 0})
        part["requests"] += row["requests"]
        part["accounts"] += row["accounts_specified"]
    types = [kind for kind in LEGAL_TYPES if kind in by_type]
    type_labels = [REQUEST_TYPES[kind].label.split(" (")[0] for kind in types]
    preservation = report.rows("preservation_by_country")
    return [
        {"name": "requests", "title": "Requests for user data by country",
         "chart": bar_chart("chart-requests", "Requests for user data by country", labels,
                            [Series("Legal", [r["legal_requests"] for r in countries]),
                             Series("Emergency", [r["emergency_requests"] for r in countries])]),
         "headers": ("Country", "Legal", "Emergency", "Total"),
         "rows": [(r["country"], r["legal_requests"], r["emergency_requests"],
                   r["total_requests"]) for r in countries]},
        {"name": "disclosed", "title": "Share of requests where some data was disclosed",
         "chart": bar_chart("chart-disclosed", "Share of requests where some data was disclosed",
                            labels, [Series("Some data disclosed", [
                                r["total_share_some_data_disclosed"] for r in countries])],
                            unit="%", maximum=100),
         "headers": ("Country", "Requests", "Some data disclosed", "Share (%)"),
         "rows": [(r["country"], r["total_requests"], r["total_requests_some_data_disclosed"],
                   _cell(r["total_share_some_data_disclosed"])) for r in countries]},
        {"name": "legal_process", "title": "Legal requests by type of legal process",
         "chart": bar_chart("chart-legal-process", "Legal requests by type of legal process",
                            type_labels, [Series("Requests", [by_type[k]["requests"]
                                                              for k in types])]),
         "headers": ("Legal process", "Requests", "Accounts specified"),
         "rows": [(label, by_type[k]["requests"], by_type[k]["accounts"])
                  for label, k in zip(type_labels, types, strict=True)]},
        {"name": "preservation", "title": "Preservation requests by country",
         "chart": bar_chart("chart-preservation", "Preservation requests by country",
                            [r["country"] for r in preservation],
                            [Series("Preservation requests", [r["preservation_requests"]
                                                              for r in preservation])]),
         "headers": ("Country", "Preservation requests", "Accounts specified", "Holds placed"),
         "rows": [(r["country"], r["preservation_requests"], r["accounts_specified"],
                   r["holds_placed"]) for r in preservation]},
    ]


def page_values(report: TransparencyReport) -> dict:
    """Plain values for the page and the PDF (never ORM objects)."""
    return {"period": {"key": report.period.key, "label": report.period.label},
            "built_at": format_time(report.built_at),
            "summary": report.summary,
            "tables": {name: report.rows(name) for name in TABLES},
            "titles": TABLE_TITLES, "columns": TABLES, "figures": figures(report)}


def record_export(actor: Identity, report: TransparencyReport, fmt: str,
                  tables: list[str] | None = None) -> None:
    record_event(actor, "transparency.exported", object_type="transparency_report",
                 object_id=report.period.key,
                 after={"format": fmt, "tables": tables or list(TABLES),
                        "built_at": report.built_at.isoformat()})


def export_table_csv(actor: Identity, report: TransparencyReport, table: str) -> str:
    text = table_csv(report, table)
    record_export(actor, report, "csv", [table])
    return text


def export_pdf(actor: Identity, report: TransparencyReport) -> bytes:
    """The PDF: rendered first, then the export audited (nothing slow inside the audit lock)."""
    pdf = render_pdf("reports/transparency.html", page_values(report))
    record_export(actor, report, "pdf")
    return pdf


def write_report(actor: Identity, report: TransparencyReport, fmt: str, out: Path) -> list[Path]:
    """Write the report into directory ``out`` as CSV files (one per table) or one PDF."""
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "pdf":
        path = out / pdf_name(report)
        path.write_bytes(render_pdf("reports/transparency.html", page_values(report)))
        written = [path]
    else:
        written = []
        for table in TABLES:
            path = out / csv_name(report, table)
            path.write_text(table_csv(report, table), encoding="utf-8", newline="")
            written.append(path)
    record_export(actor, report, fmt)
    return written
