"""NCMEC CyberTipline reports: one per report about a case, with its files, status, remote
operation and the report id NCMEC gave it

Revision ID: 0007_ncmec_reports
Revises: 0006_sign_in_failures
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_ncmec_reports'
down_revision = '0006_sign_in_failures'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ncmec_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('evidence_ids', sa.JSON(), nullable=False),
    sa.Column('identifiers', sa.JSON(), nullable=False),
    sa.Column('remote_report_id', sa.String(length=32), nullable=True),
    sa.Column('operation_id', sa.Integer(), nullable=True),
    sa.Column('retract_operation_id', sa.Integer(), nullable=True),
    sa.Column('hold_id', sa.Integer(), nullable=True),
    sa.Column('drafted_by_id', sa.Integer(), nullable=True),
    sa.Column('drafted_by_label', sa.String(length=255), nullable=False),
    sa.Column('drafted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_by_label', sa.String(length=255), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retracted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_ncmec_reports_case_id_cases'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['operation_id'], ['remote_operations.id'], name=op.f('fk_ncmec_reports_operation_id_remote_operations')),
    sa.ForeignKeyConstraint(['retract_operation_id'], ['remote_operations.id'], name=op.f('fk_ncmec_reports_retract_operation_id_remote_operations')),
    sa.ForeignKeyConstraint(['hold_id'], ['preservation_holds.id'], name=op.f('fk_ncmec_reports_hold_id_preservation_holds')),
    sa.ForeignKeyConstraint(['drafted_by_id'], ['users.id'], name=op.f('fk_ncmec_reports_drafted_by_id_users')),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], name=op.f('fk_ncmec_reports_confirmed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ncmec_reports'))
    )
    with op.batch_alter_table('ncmec_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ncmec_reports_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ncmec_reports_remote_report_id'), ['remote_report_id'], unique=False)


def downgrade():
    with op.batch_alter_table('ncmec_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ncmec_reports_remote_report_id'))
        batch_op.drop_index(batch_op.f('ix_ncmec_reports_case_id'))
    op.drop_table('ncmec_reports')
