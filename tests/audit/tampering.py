"""Tampering with the audit trail as an attacker with write access to the database would."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select, text

from referrals.audit.models import AuditEvent
from referrals.audit.services import event_digest, hashed_fields


def move_head(connection, seq: int, last_hash: str) -> None:
    connection.execute(text("UPDATE audit_chain_head SET seq = :seq, last_hash = :hash"),
                       {"seq": seq, "hash": last_hash})


def rewrite_from(connection, seq: int) -> None:
    """Edit one event and recompute every hash after it (and the head) with the product's
    own functions: the chain alone still checks; only a signed checkpoint can tell."""
    table = AuditEvent.__table__
    rows = connection.execute(select(table).where(table.c.seq >= seq - 1)
                              .order_by(table.c.seq)).all()
    prev_hash = rows[0].hash
    for row in rows[1:]:
        fields = dict(row._mapping)
        if row.seq == seq:
            fields["after"] = '{"label":"nothing to see"}'
        fields["prev_hash"] = prev_hash
        fields["hash"] = event_digest(hashed_fields(SimpleNamespace(**fields)))
        connection.execute(table.update().where(table.c.id == row.id).values(
            after=fields["after"], prev_hash=fields["prev_hash"], hash=fields["hash"]))
        prev_hash = fields["hash"]
    move_head(connection, rows[-1].seq, prev_hash)
