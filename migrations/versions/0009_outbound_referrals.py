"""Referrals to agencies from a case: what they say and carry, who drafted, approved and sent
them and how, the agency's reference

Revision ID: 0009_outbound_referrals
Revises: 0008_disclosures
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_outbound_referrals'
down_revision = '0008_disclosures'
branch_labels = None
depends_on = None


def _when(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    op.create_table(
        'outbound_referrals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('incident_type', sa.String(length=40), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('legal_basis', sa.String(length=24), nullable=False),
        sa.Column('legal_basis_note', sa.Text(), nullable=False),
        sa.Column('subject_ids', sa.JSON(), nullable=False),
        sa.Column('evidence_ids', sa.JSON(), nullable=False),
        sa.Column('drafted_by_id', sa.Integer(), nullable=True),
        sa.Column('drafted_by_label', sa.String(length=255), nullable=False),
        _when('drafted_at', nullable=False),
        _when('submitted_at'),
        sa.Column('approved_by_id', sa.Integer(), nullable=True),
        sa.Column('approved_by_label', sa.String(length=255), nullable=True),
        _when('approved_at'),
        sa.Column('delivery_method', sa.String(length=16), nullable=True),
        sa.Column('sent_by_id', sa.Integer(), nullable=True),
        sa.Column('sent_by_label', sa.String(length=255), nullable=True),
        _when('sent_at'),
        sa.Column('delivered_by', sa.String(length=200), nullable=False),
        sa.Column('delivery_channel', sa.String(length=24), nullable=False),
        _when('delivered_at'),
        sa.Column('delivery_note', sa.Text(), nullable=False),
        sa.Column('ncmec_report_id', sa.Integer(), nullable=True),
        sa.Column('disclosure_id', sa.Integer(), nullable=True),
        sa.Column('agency_reference', sa.String(length=120), nullable=True),
        _when('acknowledged_at'),
        _when('withdrawn_at'),
        sa.Column('withdraw_reason', sa.Text(), nullable=False),
        sa.Column('returned_reason', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id']),
        sa.ForeignKeyConstraint(['drafted_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['approved_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['sent_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['ncmec_report_id'], ['ncmec_reports.id']),
        sa.ForeignKeyConstraint(['disclosure_id'], ['disclosures.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_outbound_referrals_case_id', 'outbound_referrals', ['case_id'])
    op.create_index('ix_outbound_referrals_agency_id', 'outbound_referrals', ['agency_id'])


def downgrade():
    op.drop_index('ix_outbound_referrals_agency_id', table_name='outbound_referrals')
    op.drop_index('ix_outbound_referrals_case_id', table_name='outbound_referrals')
    op.drop_table('outbound_referrals')
