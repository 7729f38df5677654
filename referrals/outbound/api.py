"""The API side of referrals delivered through the portal: an officer's token (scope
requests:write, the scope every officer token has) lists the referrals to their agency,
reads one, downloads its package (resumable with Range), takes a one-time key once and
acknowledges it with their reference. The same officer-scoped queries as the portal: a
referral that is not the officer's agency's is 404, like one that does not exist."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from referrals.core.api import BEARER, api_blueprint, require_scope
from referrals.core.identity import current_identity
from referrals.outbound import delivery, rules
from referrals.packages import services as packages
from referrals.packages.api import KeyOut, PackageOut
from referrals.packages.delivery import file_response, requested_range, text_file_response

referrals_api = api_blueprint(
    "referrals_api", __name__, url_prefix="/api/v1/referrals",
    description="Referrals the platform sends to your agency through the portal, each with an "
    "encrypted evidence package and its referral report (scope requests:write). Acknowledge "
    "one with your agency's reference.")


class ReferralOut(Schema):
    """What an officer reads: no staff names, no internal notes."""

    reference = fields.String(metadata={"description": "Our reference, RFL-…"})
    status = fields.Method("get_status", metadata={"description": "sent or acknowledged"})
    sent_at = fields.DateTime()
    message = fields.String(attribute="portal_message")
    summary = fields.String()
    legal_basis = fields.Method("get_legal_basis")
    agency_reference = fields.String(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)
    package = fields.Method("get_package")

    def get_status(self, obj):
        return obj.status

    def get_legal_basis(self, obj):
        return rules.LEGAL_BASES.get(obj.legal_basis, obj.legal_basis)

    def get_package(self, obj):
        package = obj.package
        if package is None or package.status not in ("ready", "expired"):
            return None
        return PackageOut().dump(package)


class AcknowledgeIn(Schema):
    agency_reference = fields.String(required=True, validate=validate.Length(min=1, max=120),
                                     metadata={"description": "Your agency's reference"})


@referrals_api.route("", methods=["GET"])
@require_scope("requests:write")
@referrals_api.response(200, ReferralOut(many=True))
@referrals_api.doc(security=[BEARER])
def index():
    """The referrals to your agency"""
    return delivery.officer_referrals(current_identity())


@referrals_api.route("/<reference>", methods=["GET"])
@require_scope("requests:write")
@referrals_api.response(200, ReferralOut)
@referrals_api.doc(security=[BEARER])
def detail(reference: str):
    """One referral to your agency"""
    return delivery.get_referral_for_officer(current_identity(), reference)


@referrals_api.route("/<reference>/package", methods=["GET"])
@require_scope("requests:write")
@referrals_api.response(200, description="The package file (<label>.tar.age); a Range request "
                        "resumes a broken download (206)", content_type="application/octet-stream")
@referrals_api.alt_response(206, description="The bytes asked for with Range",
                            content_type="application/octet-stream")
@referrals_api.alt_response(410, description="Expired, or the download limit was reached")
@referrals_api.doc(security=[BEARER])
def download(reference: str):
    """Download a referral's package"""
    identity = current_identity()
    package = delivery.officer_package(delivery.get_referral_for_officer(identity, reference))
    path = packages.start_download(identity, package, via="api",
                                   byte_range=requested_range(package))
    return file_response(package, path)


@referrals_api.route("/<reference>/package/<any(sha256, sig):which>", methods=["GET"])
@require_scope("requests:write")
@referrals_api.response(200, description="The package's checksum file (<label>.tar.age.sha256) "
                        "or its SSH signature (….sha256.sig)", content_type="text/plain")
@referrals_api.doc(security=[BEARER])
def checksum(reference: str, which: str):
    """Download a referral package's checksum file or its signature"""
    package = delivery.officer_package(
        delivery.get_referral_for_officer(current_identity(), reference))
    return text_file_response(*packages.checksum_file(package, which))


@referrals_api.route("/<reference>/package/key", methods=["POST"])
@require_scope("requests:write")
@referrals_api.response(200, KeyOut)
@referrals_api.alt_response(410, description="The key was taken already")
@referrals_api.doc(security=[BEARER])
def take_key(reference: str):
    """Take a referral package's one-time key (once: it is not kept)"""
    identity = current_identity()
    package = delivery.officer_package(delivery.get_referral_for_officer(identity, reference))
    secret = packages.reveal_one_time_key(identity, package)
    return {"identity": secret, "recipient": package.recipients[0]}


@referrals_api.route("/<reference>/acknowledge", methods=["POST"])
@require_scope("requests:write")
@referrals_api.arguments(AcknowledgeIn)
@referrals_api.response(200, ReferralOut)
@referrals_api.alt_response(409, description="Acknowledged already")
@referrals_api.doc(security=[BEARER])
def acknowledge(data, reference: str):
    """Acknowledge a referral with your agency's reference"""
    identity = current_identity()
    referral = delivery.get_referral_for_officer(identity, reference)
    return delivery.acknowledge_received(identity, referral, data["agency_reference"])


def register(api) -> None:
    api.register_blueprint(referrals_api)
