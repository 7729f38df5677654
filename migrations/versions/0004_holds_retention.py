"""Preservation holds, evidence owned by requests and holds, retention purge marks.

Revision ID: 0004_holds_retention
Revises: 0003_agencies_requests
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_holds_retention'
down_revision = '0003_agencies_requests'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('hold_counters',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_hold_counters'))
    )
    op.create_table('preservation_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('external_reference', sa.String(length=64), nullable=False),
    sa.Column('data_categories', sa.JSON(), nullable=False),
    sa.Column('date_from', sa.Date(), nullable=True),
    sa.Column('date_to', sa.Date(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('renewals', sa.Integer(), nullable=False),
    sa.Column('extensions', sa.Integer(), nullable=False),
    sa.Column('production_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('production_reference', sa.String(length=64), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('placed_by_label', sa.String(length=255), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=False),
    sa.Column('snapshot_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_preservation_holds_agency_id_agencies')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_preservation_holds_case_id_cases')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_preservation_holds_owner_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['disclosure_requests.id'], name=op.f('fk_preservation_holds_request_id_disclosure_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preservation_holds')),
    sa.UniqueConstraint('reference', name=op.f('uq_preservation_holds_reference'))
    )
    with op.batch_alter_table('preservation_holds', schema=None) as batch_op:
        batch_op.create_index('ix_holds_status_expiry', ['status', 'expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_preservation_holds_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_preservation_holds_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_preservation_holds_request_id'), ['request_id'], unique=False)

    op.create_table('held_identifiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hold_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.Column('normalized', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['hold_id'], ['preservation_holds.id'], name=op.f('fk_held_identifiers_hold_id_preservation_holds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_held_identifiers'))
    )
    with op.batch_alter_table('held_identifiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_held_identifiers_hold_id'), ['hold_id'], unique=False)
        batch_op.create_index('ix_held_identifiers_lookup', ['kind', 'normalized'], unique=False)

    op.create_table('hold_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hold_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('actor_label', sa.String(length=255), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hold_id'], ['preservation_holds.id'], name=op.f('fk_hold_events_hold_id_preservation_holds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hold_events'))
    )
    with op.batch_alter_table('hold_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hold_events_hold_id'), ['hold_id'], unique=False)

    op.create_table('hold_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hold_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hold_id'], ['preservation_holds.id'], name=op.f('fk_hold_reminders_hold_id_preservation_holds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hold_reminders')),
    sa.UniqueConstraint('hold_id', 'expires_at', 'days_before', name='uq_hold_reminders_once')
    )
    with op.batch_alter_table('hold_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hold_reminders_hold_id'), ['hold_id'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('disclosure_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('related_reference', sa.String(length=20), nullable=True))

    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hold_id', sa.Integer(), nullable=True))
        batch_op.alter_column('case_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_evidence_items_hold_id'), ['hold_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_items_request_id'), ['request_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_evidence_items_request_id_disclosure_requests'), 'disclosure_requests', ['request_id'], ['id'], ondelete='RESTRICT')
        batch_op.create_foreign_key(batch_op.f('fk_evidence_items_hold_id_preservation_holds'), 'preservation_holds', ['hold_id'], ['id'], ondelete='RESTRICT')
        batch_op.create_check_constraint(op.f('ck_evidence_items_one_owner'), sa.text(
            "(CASE WHEN case_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN request_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN hold_id IS NULL THEN 0 ELSE 1 END) = 1"))



def downgrade():
    # Items collected for requests and holds have no case to belong to before this revision.
    op.execute("DELETE FROM custody_events WHERE evidence_id IN "
               "(SELECT id FROM evidence_items WHERE case_id IS NULL)")
    op.execute("DELETE FROM evidence_items WHERE case_id IS NULL")
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_evidence_items_one_owner'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_evidence_items_hold_id_preservation_holds'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_evidence_items_request_id_disclosure_requests'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_evidence_items_request_id'))
        batch_op.drop_index(batch_op.f('ix_evidence_items_hold_id'))
        batch_op.alter_column('case_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('hold_id')
        batch_op.drop_column('request_id')

    with op.batch_alter_table('disclosure_requests', schema=None) as batch_op:
        batch_op.drop_column('related_reference')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('purged_at')

    with op.batch_alter_table('hold_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hold_reminders_hold_id'))

    op.drop_table('hold_reminders')
    with op.batch_alter_table('hold_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hold_events_hold_id'))

    op.drop_table('hold_events')
    with op.batch_alter_table('held_identifiers', schema=None) as batch_op:
        batch_op.drop_index('ix_held_identifiers_lookup')
        batch_op.drop_index(batch_op.f('ix_held_identifiers_hold_id'))

    op.drop_table('held_identifiers')
    with op.batch_alter_table('preservation_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_preservation_holds_request_id'))
        batch_op.drop_index(batch_op.f('ix_preservation_holds_case_id'))
        batch_op.drop_index(batch_op.f('ix_preservation_holds_agency_id'))
        batch_op.drop_index('ix_holds_status_expiry')

    op.drop_table('preservation_holds')
    op.drop_table('hold_counters')
