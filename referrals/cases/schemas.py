"""API schemas for escalations and cases. Input and output schemas are separate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from referrals.cases import rules
from referrals.vocabulary.identifiers import KINDS, normalize, phone_region
from referrals.core.clock import now
from referrals.core.errors import InvalidInput
from referrals.core.inputs import NOT_BLANK


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REASONS = ("hash_match", "classifier", "user_report", "ngo_tip")
HEX = {32: validate.Regexp(r"^[0-9a-fA-F]{32}$", error="32 hexadecimal characters"),
       40: validate.Regexp(r"^[0-9a-fA-F]{40}$", error="40 hexadecimal characters"),
       64: validate.Regexp(r"^[0-9a-fA-F]{64}$", error="64 hexadecimal characters")}


class AwareDateTime(fields.AwareDateTime):
    """A timestamp that must say its time zone (the API refuses to guess)."""

    def __init__(self, **kwargs):
        # The spec says what the server checks: a year from 1970, and a zone.
        kwargs.setdefault("metadata", {}).setdefault(
            "pattern", r"^(19[7-9][0-9]|2[0-9]{3})-.*(Z|z|[+-][0-9]{2}:?[0-9]{2})$")
        super().__init__(**kwargs)

    # marshmallow's key is "invalid_awareness"; under any other name the plain message
    # was never used and clients saw "Not a valid aware datetime."
    default_error_messages = {
        "invalid_awareness": "Give a time zone, e.g. 2026-11-20T10:00:00Z.",
        "invalid": "Not a date and time; use ISO 8601, e.g. 2026-11-20T10:00:00Z.",
        "too_early": "Give a time after 1970-01-01T00:00:00Z.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        # Year 1 with a positive offset has no UTC form (OverflowError when stored);
        # nothing this API receives happened before 1970.
        try:
            moment = moment.astimezone(UTC)
        except OverflowError as error:
            raise self.make_error("too_early") from error
        if moment < EPOCH:
            raise self.make_error("too_early")
        return moment


class IdentifierIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(KINDS)),
                         metadata={"description": "One of: " + ", ".join(KINDS)})
    value = fields.String(required=True, validate=validate.Length(min=1, max=320))
    observed_at = AwareDateTime(load_default=None, metadata={"description": "IP addresses: when seen"})
    port = fields.Integer(load_default=None, validate=validate.Range(0, 65535))

    @validates_schema
    def ip_only(self, data, **kwargs):
        if data["kind"] != "ip" and (data.get("observed_at") or data.get("port") is not None):
            raise ValidationError("Only IP addresses take observed_at and port.", "observed_at")

    @validates_schema
    def normal_form(self, data, **kwargs):
        # Checked here, not only in the service, so that the error names the identifier
        # (accounts.0.identifiers.2.value) rather than a bare "value".
        try:
            normalize(data["kind"], data["value"], region=phone_region())
        except InvalidInput as error:
            raise ValidationError(error.message, "value") from error


class AccountIn(Schema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "Display name or handle", "pattern": NOT_BLANK})
    role = fields.String(load_default="account",
                         validate=validate.OneOf(["account", "suspect", "victim", "witness", "other"]))
    identifiers = fields.List(fields.Nested(IdentifierIn), required=True,
                              validate=validate.Length(min=1, max=50))


class ContentIn(Schema):
    platform_content_id = fields.String(load_default=None, validate=validate.Length(max=128))
    url = fields.Url(load_default=None, schemes={"http", "https"},
                     metadata={"format": "uri", "minLength": 1, "pattern": "^https?://"})
    mime_type = fields.String(load_default=None, validate=validate.Length(max=100))
    md5 = fields.String(load_default=None, validate=HEX[32])
    sha1 = fields.String(load_default=None, validate=HEX[40])
    sha256 = fields.String(load_default=None, validate=HEX[64])
    pdq = fields.String(load_default=None, validate=HEX[64])
    may_be_csam = fields.Boolean(load_default=False)


class EscalationIn(Schema):
    source_system = fields.String(required=True, validate=validate.Length(min=1, max=64))
    external_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    category = fields.String(required=True, validate=validate.OneOf(list(rules.CATEGORIES)))
    reason = fields.String(required=True, validate=validate.OneOf(REASONS))
    detected_at = AwareDateTime(required=True)
    priority = fields.String(load_default=None, validate=validate.OneOf(list(rules.PRIORITIES)))
    title = fields.String(load_default=None, validate=validate.Length(max=200))
    summary = fields.String(load_default="", validate=validate.Length(max=20000))
    accounts = fields.List(fields.Nested(AccountIn), required=True,
                           validate=validate.Length(min=1, max=50))
    content = fields.List(fields.Nested(ContentIn), load_default=list,
                          validate=validate.Length(max=500))

    @validates("detected_at")
    def not_in_future(self, value, **kwargs):
        if value > now() + timedelta(minutes=5):
            raise ValidationError("Detection cannot be in the future.")


class EscalationOut(Schema):
    case_reference = fields.String()
    escalation_id = fields.Integer()
    created = fields.Boolean(metadata={"description": "A new case was opened"})
    attached = fields.Boolean(metadata={"description": "Joined an open case sharing an identifier"})
    duplicate = fields.Boolean(metadata={"description": "Already received: nothing changed"})


class CaseOut(Schema):
    """A case as an integration sees it (no notes, no timeline)."""

    reference = fields.String()
    title = fields.String()
    category = fields.String()
    priority = fields.String()
    status = fields.String()
    source = fields.String()
    created_at = fields.DateTime()
    response_due_at = fields.DateTime()
    assigned = fields.Function(lambda case: case.assignee_id is not None)
