"""A package file as an HTTP response: streamed from disk or the bucket, resumable with Range requests
(werkzeug's conditional responses: 206 with Content-Range, If-Range against the ETag, which
is the package's SHA-256), never cached."""

from __future__ import annotations

from flask import Response, request, send_file
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from referrals.packages.models import EvidencePackage
from referrals.packages.shelf import ShelvedFile

CHUNK = 1024 * 1024


def requested_range(package: EvidencePackage) -> tuple[int, int] | None:
    """The byte range asked for as (start, stop), or None for the whole file (also when an
    If-Range names another version: werkzeug then serves the whole file).

    A range that lies outside the file is refused (416, with the file's length) before the
    download is recorded: it must neither count against the limit nor be served whole."""
    byte_range = request.range
    if byte_range is None or not package.size:
        return None
    if request.headers.get("If-Range") and request.if_range.etag != package.sha256:
        return None
    asked = byte_range.range_for_length(package.size)
    if asked is None:
        raise RequestedRangeNotSatisfiable(
            length=package.size,
            description=f"The range asked for is outside the package ({package.size:,} bytes). "
                        "Resume from a byte below its size, or download it whole.")
    return asked


def _streamed(package: EvidencePackage, stored: ShelvedFile) -> Response:
    """From the bucket: the range asked for (a ranged GET), or the whole file, as it comes."""
    byte_range = requested_range(package)
    start, stop = byte_range if byte_range is not None else (0, package.size or 0)
    reader = stored.shelf.open(stored.name, start, stop - start if byte_range else None)

    def body():
        try:
            while chunk := reader.read(CHUNK):
                yield chunk
        finally:
            reader.close()

    response = Response(body(), status=206 if byte_range else 200,
                        mimetype="application/octet-stream", direct_passthrough=True)
    response.headers["Content-Length"] = str(stop - start)
    if byte_range:
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{package.size}"
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Content-Disposition"] = f'attachment; filename="{package.file_name}"'
    response.set_etag(package.sha256 or "")
    return response


def file_response(package: EvidencePackage, stored: ShelvedFile):
    local = stored.shelf.local_path(stored.name)
    if local is not None:
        response = send_file(local, mimetype="application/octet-stream", as_attachment=True,
                             download_name=package.file_name, conditional=True,
                             etag=package.sha256, max_age=0)
    else:
        response = _streamed(package, stored)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-SHA256"] = package.sha256 or ""
    return response


def text_file_response(name: str, data: bytes):
    response = Response(data, mimetype="text/plain")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
