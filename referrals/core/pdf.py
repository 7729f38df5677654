"""PDFs from Jinja templates with WeasyPrint, locked down.

A template renders from plain values (dicts, strings, numbers; never ORM objects, so what
goes on paper is exactly what the caller chose), and the renderer fetches nothing: no
``file://`` (which would read the server's disk), no http(s) (which would reach the network
from inside the building, or leak that a letter is being made). Only ``data:`` URIs load.
Styles sit in a ``<style>`` element in the template; there is no base URL, so a relative
link resolves to nothing.

WeasyPrint (with Pango, its fonts and fontTools, tens of megabytes) loads when the first PDF
is made, not with the app: every web and worker process would otherwise carry it. So its
classes, and ours built on them (``NoFetching``, ``RefusedURL``), are made on first use.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from flask import render_template

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
ALLOWED_SCHEMES = frozenset({"data"})


@functools.cache
def _fetching_classes() -> dict[str, type]:
    from weasyprint.urls import FatalURLFetchingError, URLFetcher  # on first use: see above

    class RefusedURL(FatalURLFetchingError):
        """A document asked for something outside itself. Fatal: WeasyPrint stops, instead
        of quietly leaving the resource out, so a template that tries is found at once."""

    class NoFetching(URLFetcher):
        """The URL fetcher for every PDF we make: ``data:`` URIs, nothing else."""

        def __init__(self) -> None:
            super().__init__(timeout=1, allowed_protocols=tuple(ALLOWED_SCHEMES),
                             allow_redirects=False, fail_on_errors=True)

        def fetch(self, url: str, headers=None):
            match = _SCHEME.match(url or "")
            scheme = match.group(1).lower() if match else ""
            if scheme not in ALLOWED_SCHEMES:
                raise RefusedURL(f"PDF rendering refused to fetch {url[:120]!r}: only data: "
                                 "URIs load")
            return super().fetch(url, headers)

    return {"RefusedURL": RefusedURL, "NoFetching": NoFetching}


def __getattr__(name: str) -> type:
    if name in ("RefusedURL", "NoFetching"):
        return _fetching_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def render_pdf(template_name: str, values: dict[str, Any], *,
               attachments: Mapping[str, bytes] | None = None,
               pdf_variant: str | None = None) -> bytes:
    """Render ``template_name`` with ``values`` (plain values only) to PDF bytes.

    ``attachments`` (file name → bytes) are embedded as associated files (a machine-readable
    manifest beside what a person reads); ``pdf_variant`` asks WeasyPrint for a PDF/A or PDF/UA
    variant ("pdf/a-3b" allows the attachments)."""
    from weasyprint import HTML, Attachment  # on first use: see above

    fetcher = _fetching_classes()["NoFetching"]()
    html = render_template(template_name, **values)
    files = [Attachment(string=data, name=name, url_fetcher=fetcher, relationship="Data")
             for name, data in (attachments or {}).items()]
    return HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf(
        pdf_variant=pdf_variant, attachments=files or None)
