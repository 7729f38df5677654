"""A referral delivered by hand names the encrypted case package it carried

Revision ID: 0012_referral_packages
Revises: 0011_legal_depth
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_referral_packages'
down_revision = '0011_legal_depth'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbound_referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('package_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_outbound_referrals_package_id', 'evidence_packages',
                                    ['package_id'], ['id'])


def downgrade():
    with op.batch_alter_table('outbound_referrals', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outbound_referrals_package_id', type_='foreignkey')
        batch_op.drop_column('package_id')
