"""An emergency request records the officer's good-faith statement, and whether its officer
was not yet verified when it was sent

Revision ID: 0017_emergency_attestation
Revises: 0016_referral_portal
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_emergency_attestation'
down_revision = '0016_referral_portal'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('disclosure_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attestation_version', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('attestation_text', sa.Text(), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('attested_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attested_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('officer_unverified', sa.Boolean(),
                                      server_default=sa.false(), nullable=False))
        batch_op.create_foreign_key('fk_disclosure_requests_attested_by_id', 'users',
                                    ['attested_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('disclosure_requests', schema=None) as batch_op:
        batch_op.drop_constraint('fk_disclosure_requests_attested_by_id', type_='foreignkey')
        batch_op.drop_column('officer_unverified')
        batch_op.drop_column('attested_by_id')
        batch_op.drop_column('attested_at')
        batch_op.drop_column('attestation_text')
        batch_op.drop_column('attestation_version')
