"""Synthetic referrals: made-up accounts on reserved domains, made-up files."""

from __future__ import annotations

import io

from referrals.cases.services import add_identifier, add_subject
from referrals.core.identity import Identity
from referrals.evidence.sensitive import mark_bytes
from referrals.evidence.services import add_evidence
from referrals.outbound import services
from tests.cases.helpers import open_case


def referral_case(user, *, sensitive=False):
    actor = Identity.for_user(user)
    case = open_case(user, title="Synthetic referral case", category="imminent_harm")
    subject = add_subject(actor, case, label="made_up_account", role="suspect")
    add_identifier(actor, subject, kind="email", value="made.up.person@example.net")
    items = [add_evidence(actor, case, io.BytesIO(b"synthetic chat log\n"),
                          original_name="chat-log.txt", data_category="content")]
    if sensitive:
        items.append(add_evidence(actor, case, io.BytesIO(b"\x89PNG synthetic"),
                                  original_name="image.png", data_category="content"))
        mark_bytes(actor, items[-1].sha256, "Synthetic: flagged for the test.")
    return case, subject, items


def draft(user, case, agency, subject, items, **overrides):
    values = dict(agency_id=agency.id, reason="Threat to life against a made-up person.",
                  incident_type="imminent_harm", summary="Synthetic summary of what happened.",
                  legal_basis="us_2702b8", subject_ids=[subject.id],
                  evidence_ids=[i.id for i in items])
    values.update(overrides)
    return services.draft_referral(Identity.for_user(user), case, **values)
