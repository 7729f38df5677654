"""A referral delivered through the portal carries a message for the agency's officers

Revision ID: 0016_referral_portal
Revises: 0015_qa_sampling
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_referral_portal'
down_revision = '0015_qa_sampling'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbound_referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('portal_message', sa.Text(), nullable=False,
                                      server_default=''))


def downgrade():
    with op.batch_alter_table('outbound_referrals', schema=None) as batch_op:
        batch_op.drop_column('portal_message')
