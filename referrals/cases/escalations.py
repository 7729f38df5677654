"""Escalation intake: idempotent, and joined to an open case that shares an identifier."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from referrals.audit.services import canonical_json, record_event
from referrals.cases import rules, services
from referrals.vocabulary.identifiers import MATCHING_KINDS, normalize, phone_region
from referrals.cases.models import Case, Escalation, Identifier, ReportedContent, Subject
from referrals.core.clock import now
from referrals.core.errors import PermissionDenied
from referrals.core.identity import Identity
from referrals.extensions import db


@dataclass(frozen=True)
class Intake:
    case: Case
    escalation: Escalation
    created: bool = False
    attached: bool = False
    duplicate: bool = False


def _find_existing(source_system: str, external_id: str) -> Escalation | None:
    return db.session.scalar(select(Escalation).where(
        Escalation.source_system == source_system, Escalation.external_id == external_id))


def _normalized_accounts(accounts: list[dict]) -> list[dict]:
    region = phone_region()
    for account in accounts:
        for item in account["identifiers"]:
            item["normalized"] = normalize(item["kind"], item["value"], region=region)
    return accounts


def _matching_open_case(accounts: list[dict]) -> Case | None:
    pairs = {(i["kind"], i["normalized"]) for a in accounts for i in a["identifiers"]
             if i["kind"] in MATCHING_KINDS}
    if not pairs:
        return None
    rows = db.session.execute(
        select(Identifier.kind, Identifier.normalized, Case)
        .join(Case, Case.id == Identifier.case_id)
        .where(Case.is_open.is_(True), Identifier.normalized.in_({n for _, n in pairs}))
        .order_by(Case.priority_rank, Case.created_at, Case.id)
    ).all()
    for kind, normalized, case in rows:
        if (kind, normalized) in pairs:
            return case
    return None


def _add_accounts(actor: Identity, case: Case, accounts: list[dict], *, new_case: bool) -> None:
    existing = [] if new_case else list(db.session.scalars(
        select(Subject).where(Subject.case_id == case.id)))
    for account in accounts:
        wanted = {(i["kind"], i["normalized"]) for i in account["identifiers"]}
        subject = next((s for s in existing
                        if wanted & {(i.kind, i.normalized) for i in s.identifiers}), None)
        if subject is None:
            subject = services.add_subject(actor, case, label=account["label"],
                                           role=account.get("role", "account"),
                                           audit=False, check=False)
            existing.append(subject)
        for item in account["identifiers"]:
            services.add_identifier(actor, subject, kind=item["kind"], value=item["value"],
                                    observed_at=item.get("observed_at"), port=item.get("port"),
                                    audit=False, check=False)


def receive_escalation(actor: Identity, data: dict) -> Intake:
    """File an escalation. The same (source_system, external_id) twice gives the same case."""
    if not actor.has_scope("escalations:write"):
        raise PermissionDenied("This token may not file escalations.")
    existing = _find_existing(data["source_system"], data["external_id"])
    if existing is not None:
        return Intake(db.session.get(Case, existing.case_id), existing, duplicate=True)

    accounts = _normalized_accounts(data["accounts"])
    received = now()
    priority = data.get("priority") or rules.DEFAULT_PRIORITY[data["category"]]
    payload = canonical_json(_payload_for_storage(data))  # before the first write, as the reads
    try:
        # A concurrent request with the same key may win the race: then answer with its
        # case. The case this request opened is inside the same savepoint, so losing the
        # race takes it back instead of leaving an empty case (it has no number yet).
        with db.session.begin_nested():
            case = _matching_open_case(accounts)
            attached = case is not None
            if case is None:
                title = data.get("title") or (
                    f"{rules.CATEGORIES[data['category']]}: {accounts[0]['label']}")
                case = services.open_case(actor, title=title, category=data["category"],
                                          priority=priority, source=data["reason"],
                                          summary=data.get("summary", ""), audit=False,
                                          check=False, numbered=False)
            escalation = Escalation(
                source_system=data["source_system"], external_id=data["external_id"],
                case_id=case.id, category=data["category"], reason=data["reason"],
                detected_at=data["detected_at"], received_at=received,
                attached_to_existing=attached,
                payload=payload,
            )
            db.session.add(escalation)
            db.session.flush()
    except IntegrityError:
        winner = _find_existing(data["source_system"], data["external_id"])
        if winner is None:  # not the race: some other constraint refused; say which
            raise
        return Intake(db.session.get(Case, winner.case_id), winner, duplicate=True)

    _add_accounts(actor, case, accounts, new_case=not attached)
    for item in data.get("content", []):
        db.session.add(ReportedContent(case_id=case.id, escalation_id=escalation.id, **{
            key: item.get(key) for key in ("platform_content_id", "url", "mime_type", "md5",
                                           "sha1", "sha256", "pdq", "may_be_csam")}))
    label = f"{data['source_system']} #{data['external_id']}"
    if attached:
        services.add_case_event(case, actor, "escalation",
                           f"Escalation {label} ({rules.SOURCES[data['reason']]}) attached: "
                           "it shares an identifier with this case.", received)
        services.raise_priority(actor, case, priority, f"escalation {label} is {priority}")
        case.updated_at = received
    else:
        services.add_case_event(case, actor, "escalation",
                           f"Opened from escalation {label} ({rules.SOURCES[data['reason']]}).",
                           received)
    # The case number last: the year's counter row stays locked from it to the commit, and
    # every other escalation that opens a case waits for it (they used to wait for this whole
    # transaction). Numbered in this transaction, not one of its own: no gaps, no number
    # taken by an escalation that then rolls back or loses the duplicate race.
    services.number_case(case)
    db.session.flush()
    record_event(actor, "escalation.received", object_type="case", object_id=case.reference,
                 after={"escalation_id": escalation.id, "source_system": data["source_system"],
                        "external_id": data["external_id"], "attached": attached,
                        "accounts": len(accounts), "content_items": len(data.get("content", []))})
    return Intake(case, escalation, created=not attached, attached=attached)


def _payload_for_storage(data: dict) -> dict:
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k != "normalized"}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return value

    return plain(data)
