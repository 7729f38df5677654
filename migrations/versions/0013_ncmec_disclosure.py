"""A finished CyberTipline report names its disclosure record

Revision ID: 0013_ncmec_disclosure
Revises: 0012_referral_packages
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_ncmec_disclosure'
down_revision = '0012_referral_packages'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ncmec_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disclosure_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_ncmec_reports_disclosure_id', 'disclosures',
                                    ['disclosure_id'], ['id'])


def downgrade():
    with op.batch_alter_table('ncmec_reports', schema=None) as batch_op:
        batch_op.drop_constraint('fk_ncmec_reports_disclosure_id', type_='foreignkey')
        batch_op.drop_column('disclosure_id')
