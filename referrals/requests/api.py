"""JSON API for agencies: submit and follow requests with an officer's token.

A token sees exactly what its officer sees: the same scoped queries as the portal.
"""

from __future__ import annotations

import base64
import binascii
import io

from marshmallow import Schema, fields, validate

from referrals.vocabulary.identifiers import KINDS, describe_identifier_kinds
from referrals.core.api import BEARER, api_blueprint, require_scope
from referrals.core.errors import InvalidInput
from referrals.core.inputs import LEGAL_DATE_SPEC, NOT_BLANK, legal_date
from referrals.core.identity import current_identity
from referrals.requests import preservation, rules
from referrals.requests import services as requests
from referrals.requests.intake import submit_request

requests_api = api_blueprint(
    "requests_api", __name__, url_prefix="/api/v1/requests",
    description="Agencies submit and follow disclosure requests (scope requests:write; a token "
    "sees exactly what its officer sees).",
)


class TargetIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(KINDS)))
    value = fields.String(required=True, validate=validate.Length(min=1, max=320))


class DocumentIn(Schema):
    filename = fields.String(required=True, validate=validate.Length(min=1, max=255))
    content_base64 = fields.String(required=True, metadata={
        "description": "The PDF, base64", "format": "byte"})


class RequestIn(Schema):
    request_type = fields.String(required=True, validate=validate.OneOf(list(rules.REQUEST_TYPES)))
    emergency = fields.Boolean(load_default=False, metadata={"description": "Emergency EPOC"})
    enforcing_authority_notified = fields.Boolean(load_default=False, metadata={
        "description": "EPOC only: the enforcing authority is notified (Regulation (EU) "
                       "2023/1543, art. 8); its window to object (art. 10(3)-(4)) is tracked"})
    return_date = fields.Date(load_default=None, validate=legal_date, metadata={
        **LEGAL_DATE_SPEC, "description": "A return or compliance date written on the "
        "process; when given it is the deadline (the end of that day in the receiving "
        "entity's zone). Not in the past."})
    addressed_to = fields.String(required=True, validate=validate.OneOf(["us", "eu", "uk"]))
    related_reference = fields.String(
        load_default=None, validate=validate.Length(max=24),
        metadata={"description": "For a preservation_renewal (required): the reference of the "
                  "preservation request it renews (REQ-… or its HOLD-…). Otherwise optional: "
                  "the earlier request this one follows. Either must be one of your requests "
                  "(submitted by you or shared with you); any other is refused with 422 "
                  "exactly as a reference that does not exist."})
    issuing_authority = fields.String(load_default="", validate=validate.Length(max=300))
    officer_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    badge_number = fields.String(load_default="", validate=validate.Length(max=64))
    official_email = fields.Email(required=True)
    phone = fields.String(required=True, validate=validate.Length(min=3, max=40))
    data_categories = fields.List(fields.String(validate=validate.OneOf(list(rules.DATA_CATEGORIES))),
                                  required=True, validate=validate.Length(min=1))
    date_from = fields.Date(required=True, validate=legal_date, metadata=LEGAL_DATE_SPEC)
    date_to = fields.Date(required=True, validate=legal_date, metadata=LEGAL_DATE_SPEC)
    legal_basis = fields.String(load_default="", validate=validate.Length(max=5000), metadata={
        "description": "Required, except for emergency disclosure requests (18 U.S.C. "
                       "2702(b)(8)), which describe the emergency instead"})
    offences = fields.String(load_default="", validate=validate.Length(max=10000))
    user_notice_allowed = fields.Boolean(load_default=False)
    nondisclosure_order = fields.Boolean(load_default=False)
    nondisclosure_until = fields.Date(load_default=None, validate=legal_date,
                                      metadata=LEGAL_DATE_SPEC)
    emergency_description = fields.String(load_default="", validate=validate.Length(max=5000))
    person_at_risk = fields.String(load_default="", validate=validate.Length(max=2000))
    why_data_helps = fields.String(load_default="", validate=validate.Length(max=5000))
    good_faith_attested = fields.Boolean(load_default=False, metadata={
        "description": "Emergency disclosure requests (required, true): the officer makes the "
                       f"good-faith statement, version {rules.GOOD_FAITH.version}: "
                       f"\"{rules.GOOD_FAITH.text}\""})
    targets = fields.List(fields.Nested(TargetIn), required=True,
                          validate=validate.Length(min=1, max=50))
    documents = fields.List(fields.Nested(DocumentIn), load_default=list,
                            validate=validate.Length(max=10))


class TargetOut(Schema):
    kind = fields.String()
    value = fields.String()


class MessageOut(Schema):
    """Messages as an agency sees them: the LER side is 'LER team', never a staff name."""

    created_at = fields.DateTime()
    author = fields.Function(lambda m: m.author.display_name if m.from_agency and m.author
                             else "LER team")
    body = fields.String()


class HoldOut(Schema):
    """A preservation hold as its agency sees it: no owner, notes or history."""

    reference = fields.String()
    kind = fields.String()
    status = fields.String()
    starts_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True, metadata={
        "description": "null while the hold lasts until the data is produced"})
    renewals_remaining = fields.Integer()
    extensions_remaining = fields.Integer()


class DisclosedItemOut(Schema):
    name = fields.Function(lambda i: i.evidence.original_name)
    sha256 = fields.String(metadata={"description": "The item's SHA-256 when it was released"})
    data_category = fields.String(allow_none=True)


class DisclosureSubjectOut(Schema):
    kind = fields.String()
    identifier = fields.String()


class DisclosureOut(Schema):
    """What left for the request, as its agency sees it: no staff names."""

    kind = fields.String(metadata={"description": "production or emergency_disclosure"})
    disclosed_at = fields.DateTime()
    recipient_name = fields.String(metadata={"description": "The agency as named at release"})
    recipient_country = fields.String()
    legal_basis = fields.String()
    data_categories = fields.List(fields.String())
    subjects = fields.List(fields.Nested(DisclosureSubjectOut))
    items = fields.List(fields.Nested(DisclosedItemOut))
    package_sha256 = fields.String(allow_none=True)


class RequestOut(Schema):
    reference = fields.String()
    request_type = fields.String()
    related_reference = fields.String(allow_none=True)
    emergency = fields.Boolean()
    status = fields.String()
    received_at = fields.DateTime()
    deadline_at = fields.DateTime()
    legal_entity = fields.String(metadata={
        "description": "Our entity that received it; its zone counts every date"})
    return_date = fields.Date(allow_none=True)
    enforcement_window_ends_at = fields.DateTime(allow_none=True, metadata={
        "description": "Notified EPOC: the enforcing authority may raise a ground for "
                       "refusal until then"})
    clock_paused_at = fields.DateTime(allow_none=True, metadata={
        "description": "Set while an Annex III (cannot comply) awaits your clarification"})
    data_categories = fields.List(fields.String())
    date_from = fields.Date()
    date_to = fields.Date()
    warnings = fields.List(fields.String())
    targets = fields.List(fields.Nested(TargetOut))
    attestation_version = fields.String(allow_none=True, metadata={
        "description": "Emergency: the version of the good-faith statement the officer made"})
    attested_at = fields.DateTime(allow_none=True)


class RequestDetailOut(RequestOut):
    messages = fields.Method("get_messages")
    hold = fields.Method("get_hold", metadata={
        "description": "The preservation hold the request placed (or, for a renewal, renewed); "
                       "null if none"})

    disclosures = fields.List(fields.Nested(DisclosureOut), metadata={
        "description": "What was released for the request, with each item's SHA-256; empty "
                       "until the production is released"})

    def get_messages(self, obj):
        return MessageOut(many=True).dump(requests.messages_for(obj, include_internal=False))

    def get_hold(self, obj):
        hold = preservation.hooks().portal_hold(obj)
        return HoldOut().dump(hold) if hold is not None else None


class MessageIn(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=20000),
                         metadata={"pattern": NOT_BLANK})


def _documents(items: list[dict]) -> list[tuple[str, io.BytesIO]]:
    documents = []
    for item in items:
        try:
            content = base64.b64decode(item["content_base64"], validate=True)
        except (binascii.Error, ValueError) as error:
            raise InvalidInput(f"{item['filename']}: content_base64 is not base64.",
                               field="documents") from error
        documents.append((item["filename"], io.BytesIO(content)))
    return documents


@requests_api.route("", methods=["POST"])
@require_scope("requests:write")
@requests_api.arguments(RequestIn)
@requests_api.response(201, RequestOut)
@requests_api.doc(security=[BEARER])
def create(data):
    """Submit a request with its legal process"""
    documents = _documents(data.pop("documents"))
    return submit_request(current_identity(), data, documents)


@requests_api.route("", methods=["GET"])
@require_scope("requests:write")
@requests_api.response(200, RequestOut(many=True))
@requests_api.doc(security=[BEARER])
def index():
    """Your requests (submitted by you or shared with you)"""
    return requests.officer_requests(current_identity())


@requests_api.route("/<reference>", methods=["GET"])
@require_scope("requests:write")
@requests_api.response(200, RequestDetailOut)
@requests_api.doc(security=[BEARER])
def detail(reference: str):
    """One of your requests, with its messages"""
    return requests.get_request_for_officer(current_identity(), reference)


@requests_api.route("/<reference>/messages", methods=["POST"])
@require_scope("requests:write")
@requests_api.arguments(MessageIn)
@requests_api.response(201, MessageOut)
@requests_api.doc(security=[BEARER])
def post_message(data, reference: str):
    """Write to the LER team about one of your requests"""
    identity = current_identity()
    found = requests.get_request_for_officer(identity, reference)
    return requests.post_message(identity, found, data["body"])


@requests_api.route("/<reference>/withdraw", methods=["POST"])
@require_scope("requests:write")
@requests_api.response(200, RequestOut)
@requests_api.doc(security=[BEARER])
def withdraw(reference: str):
    """Withdraw one of your requests"""
    identity = current_identity()
    found = requests.get_request_for_officer(identity, reference)
    requests.withdraw_request(identity, found)
    return found


# What each type of legal process must carry besides the common fields, as intake's
# check_request refuses it; the spec says the same, one variant per type.
TEXT = {"type": "string", "minLength": 1, "pattern": NOT_BLANK}


def describe_request_types(spec) -> None:
    generic = spec.components.schemas["RequestIn"]
    variants = []
    for key, kind in rules.REQUEST_TYPES.items():
        needs = (["emergency_description", "person_at_risk", "why_data_helps"] if kind.emergency
                 else ["legal_basis", "issuing_authority"])
        if key in rules.RENEWAL_REQUEST_TYPES:
            needs.append("related_reference")
        properties = {**generic["properties"], "request_type": {"type": "string", "enum": [key]}}
        if kind.emergency:  # the good-faith statement, made
            properties["good_faith_attested"] = {"type": "boolean", "enum": [True]}
            needs.append("good_faith_attested")
        if not kind.emergency:  # the legal process itself, as a PDF
            needs.append("documents")
            properties["documents"] = {**properties["documents"], "minItems": 1}
        for name in (n for n in needs if n not in ("documents", "good_faith_attested")):
            properties[name] = {**properties[name], **TEXT}
            properties[name].pop("default", None)
            properties[name].pop("nullable", None)
        variants.append({**generic, "title": f"Request ({key})", "properties": properties,
                         "required": sorted({*generic.get("required", ()), *needs})})
    spec.components.schemas["RequestIn"] = {"oneOf": variants}
    describe_identifier_kinds(spec, "TargetIn")


def register(api) -> None:
    api.register_blueprint(requests_api)
    describe_request_types(api.spec)
