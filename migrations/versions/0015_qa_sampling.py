"""QA sampling of disclosures: draws (seed, rate, window), the disclosures drawn, findings

Revision ID: 0015_qa_sampling
Revises: 0014_leases
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_qa_sampling'
down_revision = '0014_leases'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'qa_draws',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('seed', sa.String(length=64), nullable=False),
        sa.Column('rate', sa.String(length=12), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=True),
        sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
        sa.Column('population', sa.Integer(), nullable=False),
        sa.Column('drawn', sa.Integer(), nullable=False),
        sa.Column('drawn_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('drawn_by_id', sa.Integer(), nullable=True),
        sa.Column('drawn_by_label', sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(['drawn_by_id'], ['users.id'],
                                name=op.f('fk_qa_draws_drawn_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_draws')),
    )
    op.create_table(
        'qa_samples',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('draw_id', sa.Integer(), nullable=False),
        sa.Column('disclosure_id', sa.Integer(), nullable=False),
        sa.Column('draw_hash', sa.String(length=64), nullable=False),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['draw_id'], ['qa_draws.id'],
                                name=op.f('fk_qa_samples_draw_id_qa_draws')),
        sa.ForeignKeyConstraint(['disclosure_id'], ['disclosures.id'],
                                name=op.f('fk_qa_samples_disclosure_id_disclosures')),
        sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'],
                                name=op.f('fk_qa_samples_reviewed_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_samples')),
        sa.UniqueConstraint('disclosure_id', name=op.f('uq_qa_samples_disclosure_id')),
    )
    op.create_index(op.f('ix_qa_samples_draw_id'), 'qa_samples', ['draw_id'])
    op.create_table(
        'qa_findings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sample_id', sa.Integer(), nullable=False),
        sa.Column('disclosure_id', sa.Integer(), nullable=False),
        sa.Column('category', sa.String(length=24), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('assignee_id', sa.Integer(), nullable=True),
        sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('response', sa.Text(), nullable=False),
        sa.Column('responded_by_id', sa.Integer(), nullable=True),
        sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resolution', sa.Text(), nullable=False),
        sa.Column('closed_by_id', sa.Integer(), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['sample_id'], ['qa_samples.id'],
                                name=op.f('fk_qa_findings_sample_id_qa_samples')),
        sa.ForeignKeyConstraint(['disclosure_id'], ['disclosures.id'],
                                name=op.f('fk_qa_findings_disclosure_id_disclosures')),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'],
                                name=op.f('fk_qa_findings_recorded_by_id_users')),
        sa.ForeignKeyConstraint(['assignee_id'], ['users.id'],
                                name=op.f('fk_qa_findings_assignee_id_users')),
        sa.ForeignKeyConstraint(['responded_by_id'], ['users.id'],
                                name=op.f('fk_qa_findings_responded_by_id_users')),
        sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'],
                                name=op.f('fk_qa_findings_closed_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_findings')),
    )
    op.create_index(op.f('ix_qa_findings_sample_id'), 'qa_findings', ['sample_id'])
    op.create_index(op.f('ix_qa_findings_disclosure_id'), 'qa_findings', ['disclosure_id'])
    op.create_index('ix_qa_findings_status', 'qa_findings', ['status', 'id'])


def downgrade():
    op.drop_index('ix_qa_findings_status', table_name='qa_findings')
    op.drop_index(op.f('ix_qa_findings_disclosure_id'), table_name='qa_findings')
    op.drop_index(op.f('ix_qa_findings_sample_id'), table_name='qa_findings')
    op.drop_table('qa_findings')
    op.drop_index(op.f('ix_qa_samples_draw_id'), table_name='qa_samples')
    op.drop_table('qa_samples')
    op.drop_table('qa_draws')
