"""Staff work (issue 11): media flags kept by SHA-256 (backfilled from the per-item flags,
which go), why a request's clock stands (Annex III, or waiting on the agency), and canned
texts for common answers.

Revision ID: 0018_staff_work
Revises: 0017_emergency_attestation
Create Date: 2026-12-01
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_staff_work'
down_revision = '0017_emergency_attestation'
branch_labels = None
depends_on = None

BACKFILL_LABEL = "migration 0018 (flagged on an evidence item before flags followed the bytes)"

CANNED_TEXTS = (
    ("needs_info", "Needs information",
     "We have received your request but cannot act on it yet. Please send us:\n\n"
     "- the account identifiers (user id, username or e-mail) exactly as they appear on the "
     "platform;\n- the date range the data should cover;\n- a signed copy of the legal "
     "process.\n\nThe deadline stands still until we have your answer."),
    ("rejected", "Rejected",
     "We cannot produce data on this request. The legal process does not reach the data "
     "asked for (for example, a subpoena reaches subscriber information only; content needs "
     "a search warrant). You may send new process that covers it."),
    ("redirected_mlat", "Redirected to an MLAT",
     "The data you ask for is held by our entity in another jurisdiction and can only be "
     "produced in answer to process valid there. Please route the request through the Mutual "
     "Legal Assistance Treaty process between your country and that jurisdiction."),
)


def upgrade():
    bind = op.get_bind()
    op.create_table(
        'sensitive_media',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('flagged_by_id', sa.Integer(), nullable=True),
        sa.Column('flagged_by_label', sa.String(length=255), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['flagged_by_id'], ['users.id'],
                                name=op.f('fk_sensitive_media_flagged_by_id_users')),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_sensitive_media')))
    # Every hash flagged on any item is flagged for all its items: the safe reading of two
    # items that disagreed.
    items = sa.table('evidence_items', sa.column('sha256', sa.String),
                     sa.column('may_be_csam', sa.Boolean), sa.column('captured_at', sa.DateTime))
    flagged = bind.execute(sa.select(items.c.sha256, sa.func.min(items.c.captured_at))
                           .where(items.c.may_be_csam.is_(True))
                           .group_by(items.c.sha256)).all()
    media = sa.table('sensitive_media', sa.column('sha256', sa.String),
                     sa.column('flagged_at', sa.DateTime(timezone=True)),
                     sa.column('flagged_by_label', sa.String), sa.column('reason', sa.Text))
    if flagged:
        op.bulk_insert(media, [{"sha256": sha, "flagged_at": at, "flagged_by_label": BACKFILL_LABEL,
                                "reason": "Flagged on an evidence item."} for sha, at in flagged])
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.drop_column('may_be_csam')

    with op.batch_alter_table('disclosure_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clock_paused_for', sa.String(length=16), nullable=True))
    # Until now the only pause was an Annex III (Regulation (EU) 2023/1543 art. 10(6)).
    op.execute("UPDATE disclosure_requests SET clock_paused_for = 'annex_iii' "
               "WHERE clock_paused_at IS NOT NULL")

    op.create_table(
        'canned_texts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=32), nullable=False),
        sa.Column('title', sa.String(length=120), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'],
                                name=op.f('fk_canned_texts_updated_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_canned_texts')),
        sa.UniqueConstraint('key', name=op.f('uq_canned_texts_key')))
    texts = sa.table('canned_texts', sa.column('key', sa.String), sa.column('title', sa.String),
                     sa.column('body', sa.Text), sa.column('updated_at', sa.DateTime(timezone=True)))
    at = datetime.now(timezone.utc)
    op.bulk_insert(texts, [{"key": key, "title": title, "body": body, "updated_at": at}
                           for key, title, body in CANNED_TEXTS])


def downgrade():
    op.drop_table('canned_texts')
    with op.batch_alter_table('disclosure_requests', schema=None) as batch_op:
        batch_op.drop_column('clock_paused_for')
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('may_be_csam', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.execute("UPDATE evidence_items SET may_be_csam = true WHERE sha256 IN "
               "(SELECT sha256 FROM sensitive_media)")
    op.drop_table('sensitive_media')
