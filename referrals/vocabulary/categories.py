"""The data categories a request asks for, a hold preserves and a disclosure carries."""

from __future__ import annotations

DATA_CATEGORIES = {
    "subscriber": "Subscriber information",
    "login_logout": "Log-in / log-out data (with IP addresses)",
    "interaction": "Interaction data (non-content)",
    "content": "Content data",
    "transaction": "Transaction data",
}


def data_category_label(key: str | None) -> str:
    """The label of a data category; "—" for an evidence item whose category was never recorded."""
    return DATA_CATEGORIES.get(key or "", "—")
