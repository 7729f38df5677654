"""Canned texts: prepared answers staff insert into a message on a request (needs
information, rejected, redirected to an MLAT …). Everyone who works requests reads them;
supervisors write them, audited. Inserting one puts its text in the message form: it is sent
only as any message is, after the person reads and chooses where it goes."""

from __future__ import annotations

import re

from sqlalchemy import select

from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.errors import InvalidInput, NotFound
from referrals.core.identity import Identity
from referrals.core.policy import Policy, has_role
from referrals.extensions import db
from referrals.requests.models import CannedText

MAX_TITLE = 120
MAX_BODY = 20000
KEY = re.compile(r"[^a-z0-9]+")


class CannedTextPolicy(Policy):
    rules = {
        "read": has_role("agent", "supervisor"),
        "edit": has_role("supervisor"),
    }


canned_policy = CannedTextPolicy()


def canned_texts(actor: Identity) -> list[CannedText]:
    canned_policy.require(actor, "read")
    return list(db.session.scalars(select(CannedText).order_by(CannedText.title, CannedText.id)))


def get_canned_text(actor: Identity, text_id: int) -> CannedText:
    canned_policy.require(actor, "read")
    text = db.session.get(CannedText, text_id)
    if text is None:
        raise NotFound("There is no such canned text.")
    return text


def _checked(title: str | None, body: str | None) -> tuple[str, str]:
    title, body = (title or "").strip(), (body or "").strip()
    errors = {}
    if not title:
        errors["title"] = "Give the text a short title."
    elif len(title) > MAX_TITLE:
        errors["title"] = f"At most {MAX_TITLE} characters."
    if not body:
        errors["body"] = "Write the text."
    elif len(body) > MAX_BODY:
        errors["body"] = f"At most {MAX_BODY:,} characters."
    if errors:
        raise InvalidInput("Correct the text: " + " ".join(errors.values()), errors=errors)
    return title, body


def _snapshot(text: CannedText) -> dict:
    return {"key": text.key, "title": text.title, "body": text.body}


def create_canned_text(actor: Identity, title: str, body: str) -> CannedText:
    canned_policy.require(actor, "edit")
    title, body = _checked(title, body)
    key = KEY.sub("_", title.lower()).strip("_")[:24] or "text"
    taken = set(db.session.scalars(select(CannedText.key).where(CannedText.key.like(f"{key}%"))))
    unique, n = key, 1
    while unique in taken:
        n += 1
        unique = f"{key}_{n}"
    text = CannedText(key=unique, title=title, body=body, updated_at=now(),
                      updated_by_id=actor.user_id)
    db.session.add(text)
    db.session.flush()
    record_event(actor, "canned_text.created", object_type="canned_text", object_id=text.id,
                 after=_snapshot(text))
    return text


def update_canned_text(actor: Identity, text: CannedText, title: str, body: str) -> CannedText:
    canned_policy.require(actor, "edit")
    title, body = _checked(title, body)
    before = _snapshot(text)
    text.title, text.body = title, body
    text.updated_at, text.updated_by_id = now(), actor.user_id
    db.session.flush()
    record_event(actor, "canned_text.changed", object_type="canned_text", object_id=text.id,
                 before=before, after=_snapshot(text))
    return text
