"""Evidence packages as the product keeps them: started with the release of a production (or
by staff for a case's referral), built in the background, marked ready only with a complete
file, downloaded by the request's officers within an expiry and a download limit.

Only the record lives in the database; the file is ``<package dir>/<label>.tar.age`` beside
its ``.sha256`` and ``.sig``. The build commits nothing until the file is whole: then one
transaction marks the package ready with its audit event, the "packaged" custody event of
every item and the package hash on the disclosure, and tells the agency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import current_app
from huey import crontab
from sqlalchemy import bindparam, func, select

from referrals.accounts.models import User
from referrals.agencies.models import Agency
from referrals.audit.services import record_event
from referrals.cases.models import Case
from referrals.core import outbox
from referrals.core.clock import as_utc, now
from referrals.core.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from referrals.core.identity import Identity, system_identity
from referrals.core.progress import JobProgress, report_progress, start_progress
from referrals.core.signing import get_signer
from referrals.core.sizes import format_size
from referrals.core.storage import get_store
from referrals.disclosures.models import Disclosure
from referrals.disclosures.services import record_packaged
from referrals.core.transaction import commit, on_commit, rollback
from referrals.core.timefmt import format_instant
from referrals.evidence.models import EvidenceItem
from referrals.evidence.policies import evidence_policy
from referrals.evidence.services import record_custody
from referrals.extensions import db, jobs
from referrals.packages.bag import BagProgress, PackageContentError, PackageContents
from referrals.packages.builder import build_package
from referrals.packages.contents import (case_contents, case_items, production_contents,
                                         production_items)
from referrals.packages.models import EvidencePackage, PackageDownload
from referrals.packages.shelf import BucketShelf, DirectoryShelf, ShelvedFile, Shelf
from referrals.packages.recipients import (escrow_recipient, one_time_identity, parse_recipient,
                                           seal_secret, unseal_secret)
from referrals.requests.models import DisclosureRequest
from referrals.requests.scope import officer_request_clause
from referrals.requests.services import record_disclosure, request_policy, tell_agency

BUILD = "package.build"
# While a build streams, its progress (the outbox lease's heartbeat) is committed this often.
PROGRESS_EVERY = 1.0
# The most a member of staff may choose for one package (the settings give the defaults).
MAX_EXPIRY_DAYS = 90
MAX_DOWNLOADS = 50


class PackageUnavailable(DomainError):
    status = 410
    title = "No longer available"


def _settings():
    return current_app.config["REFERRALS_SETTINGS"]


def package_dir() -> Path:
    settings = _settings()
    return settings.package_dir or settings.instance_path / "packages"


def package_path(package: EvidencePackage) -> Path:
    """Where a directory shelf keeps the package's file (tests and the local CLI)."""
    return package_dir() / package.file_name


def package_shelf() -> Shelf:
    """Where built packages are kept: the evidence bucket when storage is S3 (every server
    reaches it), else ``package_dir``."""
    if _settings().storage_backend == "s3":
        return BucketShelf(get_store().objects.folder("packages"))
    return DirectoryShelf(package_dir())


def _shelved(package: EvidencePackage, missing: str) -> ShelvedFile:
    stored = ShelvedFile(package_shelf(), package.file_name)
    if not stored.exists():
        raise PackageUnavailable(missing)
    return stored


# --- starting a build --------------------------------------------------------------------


def _limits(expiry_days: int | None, download_limit: int | None) -> tuple[int, int]:
    settings = _settings()
    days = settings.package_expiry_days if expiry_days is None else expiry_days
    limit = settings.package_download_limit if download_limit is None else download_limit
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise InvalidInput(f"A package can be offered for 1 to {MAX_EXPIRY_DAYS} days.",
                           field="expiry_days")
    if not 1 <= limit <= MAX_DOWNLOADS:
        raise InvalidInput(f"A package can be downloaded 1 to {MAX_DOWNLOADS} times.",
                           field="download_limit")
    return days, limit


def agency_recipients(agency: Agency) -> list[str]:
    """The agency's registered package keys that the encrypting library accepts."""
    keys = []
    for key in agency.keys:
        try:
            parse_recipient(key.public_key)
        except InvalidInput:
            continue
        keys.append(key.public_key)
    return keys


def _label(prefix: str, owner_column, owner_id: int) -> str:
    count = db.session.scalar(select(func.count(EvidencePackage.id))
                              .where(owner_column == owner_id)) or 0
    return f"{prefix}-P{count + 1}"


def _start(actor: Identity, *, purpose: str, label: str, recipients: list[str], kind: str,
           days: int, limit: int, request: DisclosureRequest | None = None,
           case: Case | None = None, reissue_of: EvidencePackage | None = None,
           agency_id: int | None = None) -> EvidencePackage:
    at = now()
    package = EvidencePackage(
        request_id=request.id if request else None, case_id=case.id if case else None,
        purpose=purpose, label=label, recipients=recipients, recipient_kind=kind,
        status="building", failure="", items=[], expires_at=at + timedelta(days=days),
        download_limit=limit, downloads_used=0, created_by_id=actor.user_id, created_at=at,
        reissue_of_id=reissue_of.id if reissue_of else None)
    db.session.add(package)
    db.session.flush()
    progress = start_progress(BUILD, "package", package.id, total=0, started_by_id=actor.user_id,
                              message="Waiting for a worker to build the package.")
    package.progress_id = progress.id
    entry = outbox.enqueue(build_package_job, package.id, key=f"{BUILD}:{package.id}")
    progress.outbox_entry_id = entry.id
    record_event(actor, "package.started", object_type="package", object_id=package.label,
                 agency_id=request.agency_id if request else agency_id,
                 after={"purpose": purpose, "recipient_kind": kind, "recipients": recipients,
                        "expires_at": package.expires_at.isoformat(), "download_limit": limit,
                        "reissue_of": reissue_of.label if reissue_of else None})
    return package


def release_production(actor: Identity, request: DisclosureRequest, *,
                       expiry_days: int | None = None,
                       download_limit: int | None = None) -> EvidencePackage:
    """Release a production: record the disclosure and build its package in the background.
    The agency is told it is ready only when the package is."""
    request_policy.require(actor, "release", request)
    days, limit = _limits(expiry_days, download_limit)
    produced = bool(request.status == "ready_for_review" and production_items(request))
    record_disclosure(actor, request)  # its refusals first (two people, the call-back)
    if not produced:
        raise DomainError("Nothing collected for this request may be produced (no item answers "
                          "a target decided \"produce\" in an approved data category): collect "
                          "the data before releasing.")
    recipients = agency_recipients(request.agency)
    return _start(actor, purpose="production", label=_label(request.reference,
                  EvidencePackage.request_id, request.id),
                  recipients=recipients, kind="agency" if recipients else "one_time",
                  days=days, limit=limit, request=request)


def build_case_package(actor: Identity, case: Case, recipient: str = "", *,
                       expiry_days: int | None = None) -> EvidencePackage:
    """A package of a case's evidence for a referral, to ``recipient`` (an age or SSH public
    key) or, with none, to a one-time key shown once to the member of staff."""
    if not actor.is_staff or not actor.has_role("agent", "supervisor"):
        raise PermissionDenied("Your account cannot package evidence.")
    items = case_items(case)
    if not items:
        raise DomainError("This case has no evidence whose bytes are kept: there is nothing "
                          "to package.")
    if any(not evidence_policy.can(actor, "read_bytes", item) for item in items):
        raise PermissionDenied("This case holds evidence your account cannot open: a member "
                               "of staff cleared for it must build the package.")
    recipient = " ".join((recipient or "").split())
    if recipient:
        parse_recipient(recipient)
    days, limit = _limits(expiry_days, None)
    return _start(actor, purpose="referral", label=_label(case.reference, EvidencePackage.case_id,
                  case.id), recipients=[recipient] if recipient else [],
                  kind="given" if recipient else "one_time", days=days, limit=limit, case=case)


# --- packages another feature delivers (a referral through the portal) --------------------


@dataclass(frozen=True)
class Delivery:
    """How a feature above this one delivers a package of a case's evidence: what the
    package carries (``contents(package, prepared_by)``, read in the build job) and what
    becomes true when it is ready (``ready(actor, package)``, in the transaction that marks
    it ready; a ``DomainError`` there fails the package with its reason)."""

    contents: Callable[[EvidencePackage, str], PackageContents]
    ready: Callable[[Identity, EvidencePackage], None]


_DELIVERIES: dict[str, Delivery] = {}


def register_delivery(purpose: str, delivery: Delivery) -> None:
    """Called once by the feature at import time (``outbound`` for its portal referrals)."""
    if purpose in ("production", "referral"):
        raise ValueError(f"{purpose!r} is a package purpose of this feature's own.")
    _DELIVERIES[purpose] = delivery


def start_delivery(actor: Identity, case: Case, agency: Agency, purpose: str, *,
                   expiry_days: int | None = None,
                   download_limit: int | None = None) -> EvidencePackage:
    """Start building a package of ``purpose`` (a registered delivery) for ``agency``: to its
    registered keys, or to a one-time key shown once to the first officer who asks."""
    if purpose not in _DELIVERIES:
        raise DomainError(f"There is no delivery of packages called {purpose!r}.")
    days, limit = _limits(expiry_days, download_limit)
    recipients = agency_recipients(agency)
    return _start(actor, purpose=purpose, label=_label(case.reference, EvidencePackage.case_id,
                  case.id), recipients=recipients, kind="agency" if recipients else "one_time",
                  days=days, limit=limit, case=case, agency_id=agency.id)


def reissue_package(actor: Identity, package: EvidencePackage, *, expiry_days: int | None = None,
                    download_limit: int | None = None) -> EvidencePackage:
    """A new package with the same contents (built again, to the keys on file now, or a new
    one-time key), a new expiry and download limit; the old one is withdrawn and its file
    removed."""
    if package.request_id is not None:
        request = db.session.get(DisclosureRequest, package.request_id)
        request_policy.require(actor, "release", request)
        if package.status not in ("ready", "expired", "failed"):
            raise DomainError("Only a package that is ready, expired or failed is re-issued.")
        recipients = agency_recipients(request.agency)
        kind, owner = ("agency" if recipients else "one_time"), dict(request=request)
        label = _label(request.reference, EvidencePackage.request_id, request.id)
    else:
        case = db.session.get(Case, package.case_id)
        if not actor.has_role("agent", "supervisor"):
            raise PermissionDenied("Your account cannot package evidence.")
        if package.status not in ("ready", "expired", "failed"):
            raise DomainError("Only a package that is ready, expired or failed is re-issued.")
        recipients, kind, owner = list(package.recipients), package.recipient_kind, dict(case=case)
        if kind == "one_time":
            recipients = []
        label = _label(case.reference, EvidencePackage.case_id, case.id)
    days, limit = _limits(expiry_days, download_limit)
    before = package.status
    package.status = "withdrawn"
    package.sealed_secret = None
    record_event(actor, "package.withdrawn", object_type="package", object_id=package.label,
                 before={"status": before}, after={"status": "withdrawn"})
    on_commit(_remove_files, package.file_name)
    return _start(actor, purpose=package.purpose, label=label, recipients=recipients, kind=kind,
                  days=days, limit=limit, reissue_of=package, **owner)


def _remove_files(file_name: str) -> None:
    shelf = package_shelf()
    for suffix in ("", ".sha256", ".sha256.sig"):
        shelf.remove(file_name + suffix)


# --- the build (a job) ---------------------------------------------------------------------


def _build_contents(package: EvidencePackage, creator: str):
    if package.purpose in _DELIVERIES:
        return _DELIVERIES[package.purpose].contents(package, creator), None
    if package.request_id is not None:
        request = db.session.get(DisclosureRequest, package.request_id)
        return production_contents(request, package.label, custodian=creator), request
    case = db.session.get(Case, package.case_id)
    return case_contents(case, package.label, prepared_by=creator), None


def _actor(package: EvidencePackage) -> Identity:
    user = db.session.get(User, package.created_by_id) if package.created_by_id else None
    return Identity.for_user(user)


class _Withdrawn(Exception):
    """The package was withdrawn (re-issued) while it was built: nothing is published."""


@jobs.task()
def build_package_job(package_id: int) -> None:
    """Build the file (no transaction open while it streams; progress, which renews the
    job's lease, is committed on its own every PROGRESS_EVERY seconds), then mark it ready in
    one transaction with everything that goes with it. The file takes its final name only
    while this delivery still holds the job (``outbox.hold_claim``): a build that outlived
    its lease and was taken over publishes nothing. A refusal (a stored file that no longer
    matches its intake hash, nothing to package, a bad escrow key) fails the package with the
    reason shown."""
    package = db.session.get(EvidencePackage, package_id)
    if package is None or package.status != "building":
        return
    progress_id = package.progress_id
    actor = _actor(package)
    try:
        report_progress(progress_id, state="running", done=0, total=0,
                        message="Writing the cover letter and listing the files.")
        package = db.session.get(EvidencePackage, package_id)
        contents, request = _build_contents(package, actor.label)
        recipients = list(package.recipients)
        one_time = None
        if package.recipient_kind == "one_time":
            one_time = one_time_identity()
            recipients = [one_time.recipient]
        escrow = escrow_recipient(_settings().package_escrow_recipient)
        if escrow:
            recipients.append(escrow)
        label = package.label
        total = sum(f.size for f in contents.files)
        report_progress(progress_id, done=0, total=_kib(total),
                        message=BagProgress(len(contents.files), total).text())
        commit()  # nothing pending; no transaction open while the file is built
        built = build_package(contents, recipients, package_shelf(), get_signer(),
                              on_progress=lambda bag: report_progress(
                                  progress_id, done=_kib(bag.done_bytes),
                                  message=bag.text()),
                              progress_every=PROGRESS_EVERY,
                              before_publish=lambda: _hold_for_publication(package_id))
        package = db.session.get(EvidencePackage, package_id)
        _mark_ready(actor, package, built, [f.item_id for f in contents.files], one_time,
                    request, recipients)
    except _Withdrawn:
        rollback()
        report_progress(progress_id, state="failed", commit_now=False,
                        message="Withdrawn while it was built: a re-issued package replaces it.")
        return
    except outbox.Superseded:
        rollback()  # the delivery that took over reports its own progress
        raise
    except (DomainError, PackageContentError) as error:
        rollback()
        message = getattr(error, "message", None) or str(error)
        _mark_failed(package_id, message)
        report_progress(progress_id, state="failed", message=message, commit_now=False)
        return
    except Exception:
        rollback()
        report_progress(progress_id, message=(
            "Building stopped on an unexpected error. It is tried again in a while; if it "
            "keeps failing, tell the on-call."))
        raise
    report_progress(progress_id, state="done", done=_kib(total), commit_now=False,
                    message=f"Ready: {label}.tar.age, {format_size(built.size)}.")


def _hold_for_publication(package_id: int) -> None:
    """The last moment before the file takes its final name, in the transaction that will
    mark it ready: this delivery must still hold the job, and the package must still be
    wanted. Both rows stay locked until that commit."""
    outbox.hold_claim()
    package = db.session.scalar(select(EvidencePackage).where(EvidencePackage.id == package_id)
                                .with_for_update().execution_options(populate_existing=True))
    if package is None or package.status != "building":
        raise _Withdrawn()


def _kib(size: int) -> int:
    """Progress counts kibibytes (its columns are 32-bit: bytes would stop at 2 GiB)."""
    return -(-size // 1024)


def _mark_ready(actor, package, built, item_ids, one_time, request, recipients) -> None:
    at = now()
    package.status = "ready"
    package.sha256 = built.sha256
    package.size = built.size
    package.items = item_ids
    package.ready_at = at
    if one_time is not None:
        package.recipients = [one_time.recipient]
        package.sealed_secret = seal_secret(one_time.secret, current_app.config["SECRET_KEY"],
                                            package.label)
    items = list(db.session.scalars(select(EvidenceItem).where(EvidenceItem.id.in_(item_ids))))
    record_packaged(actor, items, package_sha256=built.sha256,
                    purpose=f"Packaged in {package.label}")
    if package.purpose in _DELIVERIES:
        _DELIVERIES[package.purpose].ready(actor, package)
    if request is not None:
        disclosure = latest_disclosure(request)
        if disclosure is not None:
            disclosure.package_sha256 = built.sha256
        tell_agency(request, f"The production is ready for you: package {package.label} can "
                             "be downloaded from this request's page in the portal until "
                             f"{format_instant(package.expires_at)}.")
    record_event(actor, "package.ready", object_type="package", object_id=package.label,
                 agency_id=request.agency_id if request else None,
                 after={"sha256": built.sha256, "size": built.size, "items": item_ids,
                        "recipients": recipients, "one_time_key": one_time is not None})


def _mark_failed(package_id: int, message: str) -> None:
    package = db.session.get(EvidencePackage, package_id)
    if package is None or package.status != "building":
        return
    package.status = "failed"
    package.failure = message
    record_event(_actor(package), "package.failed", object_type="package",
                 object_id=package.label, after={"reason": message})


def latest_disclosure(request: DisclosureRequest) -> Disclosure | None:
    return db.session.scalar(select(Disclosure).where(Disclosure.request_id == request.id)
                             .order_by(Disclosure.id.desc()).limit(1))


def remove_leftovers(older_than: float) -> list[str]:
    """Partial files of builds that did not finish, older than ``older_than`` seconds (on
    S3: uploads whose writer stopped showing life)."""
    return package_shelf().remove_unfinished(older_than)


@jobs.on_worker_start
def remove_partial_packages_at_start() -> None:
    """A worker that starts removes what a killed build left (a build still running in
    another worker has touched its file within the outbox lease)."""
    remove_leftovers(_settings().outbox_lease_seconds)


# --- reading --------------------------------------------------------------------------------


def progress_of(package: EvidencePackage) -> JobProgress | None:
    return db.session.get(JobProgress, package.progress_id) if package.progress_id else None


def packages_for_request(request: DisclosureRequest) -> list[EvidencePackage]:
    """Every package of the request, newest first (staff: callers check)."""
    return list(db.session.scalars(select(EvidencePackage)
                                   .where(EvidencePackage.request_id == request.id)
                                   .order_by(EvidencePackage.id.desc())))


_PACKAGES_FOR_CASE = (select(EvidencePackage)
                      .where(EvidencePackage.case_id == bindparam("case_id"))
                      .order_by(EvidencePackage.id.desc()))


def packages_for_case(case: Case) -> list[EvidencePackage]:
    # The statement is built once: on the case page, building it cost more than running it.
    return list(db.session.scalars(_PACKAGES_FOR_CASE, {"case_id": case.id}))


def get_package_for_staff(identity: Identity, package_id: int) -> EvidencePackage:
    if not identity.is_staff or not identity.has_role("agent", "supervisor", "compliance"):
        raise PermissionDenied("Your account cannot see evidence packages.")
    package = db.session.get(EvidencePackage, package_id)
    if package is None:
        raise NotFound("There is no such package.")
    return package


def _officer_query(identity: Identity, reference: str):
    return (select(EvidencePackage)
            .join(DisclosureRequest, EvidencePackage.request_id == DisclosureRequest.id)
            .where(officer_request_clause(identity),
                   DisclosureRequest.reference == reference.upper(),
                   EvidencePackage.purpose == "production",
                   EvidencePackage.status.in_(("ready", "expired"))))


def officer_packages(identity: Identity, reference: str) -> list[EvidencePackage]:
    """The packages of one request in the officer scope that the officer may see (ready or
    expired), newest first; outside the scope, nothing."""
    return list(db.session.scalars(_officer_query(identity, reference)
                                   .order_by(EvidencePackage.id.desc())))


def get_package_for_officer(identity: Identity, reference: str, package_id: int) -> EvidencePackage:
    """One package, looked up through the officer scope in the query: another officer's, or
    another agency's, is exactly as missing as one that does not exist."""
    package = db.session.scalar(_officer_query(identity, reference)
                                .where(EvidencePackage.id == package_id))
    if package is None:
        raise NotFound("There is no such package.")
    return package


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str  # why not, in plain words


def availability(package: EvidencePackage) -> Availability:
    if package.status == "withdrawn":
        return Availability(False, "This package was replaced by a re-issued one.")
    if package.status != "ready" and package.status != "expired":
        return Availability(False, "This package is not ready.")
    if package.status == "expired" or as_utc(package.expires_at) <= now():
        return Availability(False, f"This package expired on {format_instant(package.expires_at)} "
                                   "and can no longer be downloaded. Ask the LER team (a "
                                   "message on the request) to issue it again.")
    if package.downloads_used >= package.download_limit:
        return Availability(False, f"This package was downloaded {package.download_limit} "
                                   "time(s), its limit. Ask the LER team (a message on the "
                                   "request) to issue it again.")
    return Availability(True, "")


def downloads_left(package: EvidencePackage) -> int:
    return max(0, package.download_limit - package.downloads_used)


def start_download(actor: Identity, package: EvidencePackage, *, via: str,
                   byte_range: tuple[int, int] | None) -> ShelvedFile:
    """Record one download (or one range of it) and hand back the file to stream.

    A download that starts at the first byte counts against the limit; a range further on
    resumes one that broke and does not count again (it is recorded all the same). The
    first download by an officer is the disclosure: every item gets its "disclosed" custody
    event then."""
    state = availability(package)
    resuming = byte_range is not None and byte_range[0] > 0
    if not state.available and not (resuming and package.status == "ready"
                                    and as_utc(package.expires_at) > now()
                                    and package.downloads_used > 0):
        raise PackageUnavailable(state.reason)
    stored = _shelved(package, "The package's file is missing. Ask the LER team to issue it "
                               "again.")
    start, stop = byte_range if byte_range is not None else (0, package.size)
    if not resuming:
        package.downloads_used += 1
    # The disclosure record marked every item "disclosed" at the release; the officer's first
    # download is when the agency actually received them.
    first_by_officer = actor.is_agency and not any(
        d.via in ("portal", "api") for d in package.downloads)
    db.session.add(PackageDownload(package_id=package.id, user_id=actor.user_id,
                                   user_label=actor.label, via=via, at=now(), range_start=start,
                                   range_end=stop - 1 if stop else None, bytes=stop - start))
    if first_by_officer:
        items = db.session.scalars(select(EvidenceItem).where(EvidenceItem.id.in_(package.items)))
        for item in items:
            record_custody(actor, item, "delivered",
                           f"Received by {actor.label} ({via}), package {package.label} "
                           f"(SHA-256 {package.sha256})")
    record_event(actor, "package.downloaded", object_type="package", object_id=package.label,
                 agency_id=actor.agency_id,
                 after={"via": via, "range": [start, stop - 1] if stop else [start, None],
                        "bytes": stop - start, "counted": not resuming,
                        "downloads_used": package.downloads_used})
    return stored


def checksum_file(package: EvidencePackage, which: str) -> tuple[str, bytes]:
    """The package's ``.sha256`` or ``.sha256.sig`` (name, bytes), while it can be downloaded."""
    if package.status != "ready":
        raise PackageUnavailable(availability(package).reason)
    name = package.file_name + (".sha256" if which == "sha256" else ".sha256.sig")
    shelf = package_shelf()
    if not shelf.exists(name):
        raise PackageUnavailable("The package's file is missing. Ask the LER team to issue it "
                                 "again.")
    return name, shelf.read_bytes(name)


def staff_download(actor: Identity, package: EvidencePackage) -> ShelvedFile:
    """Staff take the file for hand delivery: recorded and audited, not counted against the
    agency's downloads."""
    if not actor.has_role("agent", "supervisor"):
        raise PermissionDenied("Your account cannot take packages out.")
    if package.status != "ready":
        raise PackageUnavailable(f"This package is {package.status_label.lower()}: only a "
                                 "ready package is downloaded.")
    stored = _shelved(package, "The package's file is missing: re-issue it.")
    db.session.add(PackageDownload(package_id=package.id, user_id=actor.user_id,
                                   user_label=actor.label, via="staff", at=now(), range_start=0,
                                   range_end=(package.size or 1) - 1, bytes=package.size or 0))
    record_event(actor, "package.downloaded", object_type="package", object_id=package.label,
                 after={"via": "staff", "bytes": package.size, "counted": False})
    return stored


def reveal_staff_key(actor: Identity, package: EvidencePackage) -> str:
    """A case package's one-time key, for the member of staff who delivers it by hand. A
    production's key is the officer's alone."""
    if package.purpose != "referral":
        raise PermissionDenied("A production's one-time key is shown only to the officer, in "
                               "the portal.")
    if not actor.has_role("agent", "supervisor"):
        raise PermissionDenied("Your account cannot take packages out.")
    return reveal_one_time_key(actor, package)


def reveal_one_time_key(actor: Identity, package: EvidencePackage) -> str:
    """The one-time secret, once: it is erased in the same transaction."""
    if package.recipient_kind != "one_time" or package.status != "ready":
        raise DomainError("This package has no key to show.")
    if package.sealed_secret is None:
        raise PackageUnavailable("The key of this package was shown once already and is not "
                                 "kept. If it was lost, ask the LER team to issue the package "
                                 "again (with a new key).")
    secret = unseal_secret(package.sealed_secret, current_app.config["SECRET_KEY"], package.label)
    package.sealed_secret = None
    package.secret_shown_at = now()
    package.secret_shown_to_id = actor.user_id
    record_event(actor, "package.key_shown", object_type="package", object_id=package.label,
                 agency_id=actor.agency_id, after={"recipient": package.recipients[0]})
    return secret


def expire_packages(actor: Identity) -> int:
    """Packages past their expiry: marked expired, their files removed after the commit."""
    expired = list(db.session.scalars(select(EvidencePackage).where(
        EvidencePackage.status == "ready", EvidencePackage.expires_at <= now())))
    for package in expired:
        package.status = "expired"
        package.sealed_secret = None
        record_event(actor, "package.expired", object_type="package", object_id=package.label,
                     before={"status": "ready"}, after={"status": "expired"})
        on_commit(_remove_files, package.file_name)
    return len(expired)


@jobs.periodic_task(crontab(minute="25"))
def sweep_packages() -> None:
    """Every hour: expire what is past its expiry, remove what killed builds left."""
    expire_packages(system_identity("package sweep"))
    remove_leftovers(_settings().outbox_lease_seconds)


def downloads_text(package: EvidencePackage) -> str:
    return f"{package.downloads_used} of {package.download_limit}"

