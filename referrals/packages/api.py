"""The API side of packages: an officer's token (scope requests:write) lists a request's
packages, downloads one (resumable with Range) and takes a one-time key once. The same
officer-scoped queries as the portal: what is not the officer's is 404, like nothing."""

from __future__ import annotations

from marshmallow import Schema, fields

from referrals.core.api import BEARER, api_blueprint, require_scope
from referrals.core.identity import current_identity
from referrals.packages import services as packages
from referrals.packages.delivery import file_response, requested_range, text_file_response

packages_api = api_blueprint(
    "packages_api", __name__, url_prefix="/api/v1/requests",
    description="Agencies download the evidence packages of their requests (scope "
    "requests:write). A package is an age-encrypted PAX tar of a BagIt bag; see the portal's "
    "help page (/portal/packages/help) for opening and verifying one.")


class PackageOut(Schema):
    id = fields.Integer()
    label = fields.String()
    file_name = fields.String()
    status = fields.String(metadata={"description": "ready or expired"})
    sha256 = fields.String(metadata={"description": "SHA-256 of the encrypted file"})
    size = fields.Integer()
    ready_at = fields.DateTime()
    expires_at = fields.DateTime()
    download_limit = fields.Integer()
    downloads_used = fields.Integer()
    one_time_key = fields.Method("get_one_time_key", metadata={
        "description": "A one-time key: \"available\" (take it once with POST …/key), \"taken\", "
                       "or null when the package is encrypted to your agency's keys"})
    recipients = fields.List(fields.String())

    def get_one_time_key(self, obj):
        if obj.recipient_kind != "one_time":
            return None
        return "available" if obj.sealed_secret is not None else "taken"


class KeyOut(Schema):
    identity = fields.String(metadata={"description": "AGE-SECRET-KEY-1…: save it as key.txt; "
                                                      "it is shown once and not kept"})
    recipient = fields.String()


@packages_api.route("/<reference>/packages", methods=["GET"])
@require_scope("requests:write")
@packages_api.response(200, PackageOut(many=True))
@packages_api.doc(security=[BEARER])
def index(reference: str):
    """The packages of one of your requests"""
    return packages.officer_packages(current_identity(), reference)


@packages_api.route("/<reference>/packages/<int:package_id>", methods=["GET"])
@require_scope("requests:write")
@packages_api.response(200, description="The package file (<label>.tar.age); a Range request "
                       "resumes a broken download (206)", content_type="application/octet-stream")
@packages_api.alt_response(206, description="The bytes asked for with Range",
                           content_type="application/octet-stream")
@packages_api.alt_response(410, description="Expired, or the download limit was reached")
@packages_api.alt_response(416, description="The Range lies outside the file (Content-Range "
                           "names its length); nothing is counted")
@packages_api.doc(security=[BEARER])
def download(reference: str, package_id: int):
    """Download a package"""
    identity = current_identity()
    package = packages.get_package_for_officer(identity, reference, package_id)
    path = packages.start_download(identity, package, via="api",
                                   byte_range=requested_range(package))
    return file_response(package, path)


@packages_api.route("/<reference>/packages/<int:package_id>/<any(sha256, sig):which>",
                     methods=["GET"])
@require_scope("requests:write")
@packages_api.response(200, description="The package's checksum file (<label>.tar.age.sha256) "
                       "or its SSH signature (….sha256.sig)", content_type="text/plain")
@packages_api.doc(security=[BEARER])
def checksum(reference: str, package_id: int, which: str):
    """Download a package's checksum file or its signature"""
    package = packages.get_package_for_officer(current_identity(), reference, package_id)
    return text_file_response(*packages.checksum_file(package, which))


@packages_api.route("/<reference>/packages/<int:package_id>/key", methods=["POST"])
@require_scope("requests:write")
@packages_api.response(200, KeyOut)
@packages_api.alt_response(410, description="The key was taken already")
@packages_api.doc(security=[BEARER])
def take_key(reference: str, package_id: int):
    """Take a package's one-time key (once: it is not kept)"""
    identity = current_identity()
    package = packages.get_package_for_officer(identity, reference, package_id)
    secret = packages.reveal_one_time_key(identity, package)
    return {"identity": secret, "recipient": package.recipients[0]}


def register(api) -> None:
    api.register_blueprint(packages_api)
