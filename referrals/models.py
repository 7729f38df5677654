"""Every model, imported in one place for Alembic and Flask-Security."""

from referrals.accounts.models import Role, SignInFailure, User, roles_users  # noqa: F401
from referrals.agencies.models import Agency  # noqa: F401
from referrals.audit.models import AuditChainHead, AuditEvent  # noqa: F401
from referrals.cases.models import (  # noqa: F401
    Case, CaseCounter, CaseEvent, Escalation, Identifier, ReportedContent, Subject)
from referrals.evidence.models import CustodyEvent, EvidenceItem, StoredBlob  # noqa: F401
from referrals.tokens.models import ApiToken  # noqa: F401
from referrals.agencies.models import AgencyDomain, AgencyKey, AgencyPhone  # noqa: F401
from referrals.directory.models import (  # noqa: F401
    DirectoryEntry, DirectoryNameChange, LookalikeKey, OfficialDomain)
from referrals.requests.models import (  # noqa: F401
    DisclosureRequest, LegalProcessDocument, RequestCollaborator, RequestCounter,
    RequestMessage, RequestTarget, UserNoticeTask)
from referrals.holds.models import (  # noqa: F401
    HeldIdentifier, HoldCounter, HoldEvent, HoldReminder, PreservationHold)
from referrals.core.blob_keys import BlobKey  # noqa: F401
from referrals.core.leases import Lease  # noqa: F401
from referrals.core.outbox import OutboxEntry  # noqa: F401
from referrals.core.progress import JobProgress  # noqa: F401
from referrals.remote.models import RemoteOperation, RemoteStep  # noqa: F401
from referrals.ncmec.models import NcmecReport  # noqa: F401
from referrals.disclosures.models import (  # noqa: F401
    DisclosedItem, Disclosure, DisclosureCategory, DisclosureSubject)
from referrals.disclosures.qa_models import QaDraw, QaFinding, QaSample  # noqa: F401
from referrals.outbound.models import Referral  # noqa: F401
from referrals.packages.models import EvidencePackage, PackageDownload  # noqa: F401
