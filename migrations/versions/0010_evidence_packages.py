"""Evidence packages: the record of each package (what, for whom, status, expiry, download
limit) and every download

Revision ID: 0010_evidence_packages
Revises: 0009_outbound_referrals
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_evidence_packages'
down_revision = '0009_outbound_referrals'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('evidence_packages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('recipient_kind', sa.String(length=12), nullable=False),
    sa.Column('sealed_secret', sa.LargeBinary(), nullable=True),
    sa.Column('secret_shown_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('secret_shown_to_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('failure', sa.Text(), nullable=False),
    sa.Column('progress_id', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('download_limit', sa.Integer(), nullable=False),
    sa.Column('downloads_used', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ready_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reissue_of_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['disclosure_requests.id'], name=op.f('fk_evidence_packages_request_id_disclosure_requests')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_evidence_packages_case_id_cases')),
    sa.ForeignKeyConstraint(['secret_shown_to_id'], ['users.id'], name=op.f('fk_evidence_packages_secret_shown_to_id_users')),
    sa.ForeignKeyConstraint(['progress_id'], ['job_progress.id'], name=op.f('fk_evidence_packages_progress_id_job_progress')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_evidence_packages_created_by_id_users')),
    sa.ForeignKeyConstraint(['reissue_of_id'], ['evidence_packages.id'], name=op.f('fk_evidence_packages_reissue_of_id_evidence_packages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_packages')),
    sa.UniqueConstraint('label', name=op.f('uq_evidence_packages_label'))
    )
    with op.batch_alter_table('evidence_packages', schema=None) as batch_op:
        batch_op.create_index('ix_evidence_packages_request', ['request_id', 'created_at'], unique=False)
        batch_op.create_index('ix_evidence_packages_case', ['case_id', 'created_at'], unique=False)

    op.create_table('package_downloads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_label', sa.String(length=255), nullable=False),
    sa.Column('via', sa.String(length=12), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('range_start', sa.BigInteger(), nullable=False),
    sa.Column('range_end', sa.BigInteger(), nullable=True),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['package_id'], ['evidence_packages.id'], name=op.f('fk_package_downloads_package_id_evidence_packages')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_package_downloads_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_package_downloads'))
    )
    with op.batch_alter_table('package_downloads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_package_downloads_package_id'), ['package_id'], unique=False)


def downgrade():
    with op.batch_alter_table('package_downloads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_package_downloads_package_id'))
    op.drop_table('package_downloads')
    with op.batch_alter_table('evidence_packages', schema=None) as batch_op:
        batch_op.drop_index('ix_evidence_packages_case')
        batch_op.drop_index('ix_evidence_packages_request')
    op.drop_table('evidence_packages')
