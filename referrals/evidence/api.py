"""JSON API for evidence: streamed upload, metadata, and bytes for cleared accounts."""

from __future__ import annotations

from flask import Response, current_app, request
from marshmallow import Schema, fields, validate

from referrals.cases import services as cases
from referrals.core.api import BEARER, api_blueprint, require_scope
from referrals.core.identity import current_identity
from referrals.vocabulary.categories import DATA_CATEGORIES
from referrals.evidence import services
from referrals.evidence.staff_views import content_disposition

evidence_api = api_blueprint(
    "evidence_api", __name__, url_prefix="/api/v1/cases",
    description="Evidence on cases: upload (evidence:write), download (evidence:read; media "
    "that may be CSAM only for accounts cleared to view it).",
)


class UploadArgs(Schema):
    filename = fields.String(required=True, validate=validate.Length(min=1, max=255))
    may_be_csam = fields.Boolean(load_default=False)
    source_system = fields.String(load_default="api", validate=validate.Length(max=64))
    platform_content_id = fields.String(load_default=None, validate=validate.Length(max=128))
    url = fields.Url(load_default=None, schemes={"http", "https"},
                     metadata={"format": "uri", "minLength": 1, "pattern": "^https?://"})
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    data_category = fields.String(
        load_default=services.DEFAULT_UPLOAD_CATEGORY,
        validate=validate.OneOf(list(DATA_CATEGORIES)),
        metadata={"description": "What the item is (default content): "
                  + ", ".join(f"{k} ({v.lower()})" for k, v in DATA_CATEGORIES.items())})


class EvidenceOut(Schema):
    id = fields.Integer()
    original_name = fields.String()
    mime_type = fields.String(metadata={"description": "Sniffed from the bytes"})
    size = fields.Integer()
    md5 = fields.String()
    sha1 = fields.String()
    sha256 = fields.String()
    may_be_csam = fields.Boolean()
    data_category = fields.String(allow_none=True, metadata={
        "description": "A data category key; null for an item stored before categories were "
                       "recorded"})
    captured_at = fields.DateTime()


@evidence_api.route("/<reference>/evidence", methods=["POST"])
@require_scope("evidence:write")
@evidence_api.arguments(UploadArgs, location="query")
@evidence_api.response(201, EvidenceOut)
@evidence_api.doc(security=[BEARER], requestBody={
    "required": True, "description": "The file's bytes, streamed (any size up to the limit)",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary",
                                                         "minLength": 1}}}})
def upload(args, reference: str):
    """Upload evidence to a case (the request body is the file)"""
    request.max_content_length = current_app.config["REFERRALS_SETTINGS"].evidence_max_bytes
    case = cases.get_case(reference)
    return services.add_evidence(
        current_identity(), case, request.stream, original_name=args["filename"],
        may_be_csam=args["may_be_csam"], source_system=args["source_system"],
        platform_content_id=args["platform_content_id"], url=args["url"],
        description=args["description"], data_category=args["data_category"],
        purpose="Uploaded through the API")


@evidence_api.route("/<reference>/evidence/<int:item_id>/content", methods=["GET"])
@require_scope("evidence:read")
@evidence_api.response(200, description="The file's bytes",
                       content_type="application/octet-stream")
@evidence_api.doc(security=[BEARER])
def download(reference: str, item_id: int):
    """Download an evidence item's bytes"""
    case = cases.get_case(reference)
    item = services.get_item(case, item_id)
    purpose = (request.args.get("purpose") or "").strip()[:500] or "Downloaded through the API"
    chunks = services.open_content(current_identity(), item, action="downloaded", purpose=purpose)
    response = Response(chunks, mimetype="application/octet-stream", direct_passthrough=True)
    response.headers["Content-Length"] = str(item.size)
    response.headers["Content-Disposition"] = content_disposition("attachment", item.original_name)
    return response


def register(api) -> None:
    api.register_blueprint(evidence_api)
