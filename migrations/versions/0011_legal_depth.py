"""Legal depth (issue 12): the entity that receives a request (its one time zone), the return
date on the process, the emergency EPOC's internal target, the enforcing authority's window,
an Annex III pause, and the legal-review date of an indefinite non-disclosure order.

Revision ID: 0011_legal_depth
Revises: 0010_evidence_packages
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_legal_depth'
down_revision = '0010_evidence_packages'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('disclosure_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_entity', sa.String(length=8), nullable=False,
                                      server_default='us'))
        batch_op.add_column(sa.Column('return_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('internal_target_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('enforcing_authority_notified', sa.Boolean(),
                                      nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('enforcement_window_ends_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('clock_paused_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('nondisclosure_review_due_at',
                                      sa.DateTime(timezone=True), nullable=True))
    # Until now a request's hold counted in the zone of the entity it was addressed to.
    op.execute("UPDATE disclosure_requests SET legal_entity = addressed_to")


def downgrade():
    with op.batch_alter_table('disclosure_requests', schema=None) as batch_op:
        batch_op.drop_column('nondisclosure_review_due_at')
        batch_op.drop_column('clock_paused_at')
        batch_op.drop_column('enforcement_window_ends_at')
        batch_op.drop_column('enforcing_authority_notified')
        batch_op.drop_column('internal_target_at')
        batch_op.drop_column('return_date')
        batch_op.drop_column('legal_entity')
