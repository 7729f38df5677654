"""A package file as an HTTP response: streamed from disk, resumable with Range requests
(werkzeug's conditional responses: 206 with Content-Range, If-Range against the ETag, which
is the package's SHA-256), never cached."""

from __future__ import annotations

from pathlib import Path

from flask import Response, request, send_file

from referrals.packages.models import EvidencePackage


def requested_range(package: EvidencePackage) -> tuple[int, int] | None:
    """The byte range asked for as (start, stop), or None for the whole file (also when an
    If-Range names another version: werkzeug then serves the whole file)."""
    byte_range = request.range
    if byte_range is None or not package.size:
        return None
    if request.headers.get("If-Range") and request.if_range.etag != package.sha256:
        return None
    return byte_range.range_for_length(package.size)


def file_response(package: EvidencePackage, path: Path):
    response = send_file(path, mimetype="application/octet-stream", as_attachment=True,
                         download_name=package.file_name, conditional=True,
                         etag=package.sha256, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-SHA256"] = package.sha256 or ""
    return response


def text_file_response(name: str, data: bytes):
    response = Response(data, mimetype="text/plain")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
