"""The audit log for people: an index for each filter, newest first (action prefix, actor,
object), replacing the single-column ones they cover.

Revision ID: 0019_audit_review
Revises: 0018_staff_work
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019_audit_review'
down_revision = '0018_staff_work'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_audit_events_action', table_name='audit_events')
    op.drop_index('ix_audit_events_object', table_name='audit_events')
    op.create_index('ix_audit_events_action_seq', 'audit_events', ['action', 'seq'])
    op.create_index('ix_audit_events_object_seq', 'audit_events',
                    ['object_type', 'object_id', 'seq'])
    op.create_index('ix_audit_events_actor_label', 'audit_events', ['actor_label', 'seq'])


def downgrade():
    op.drop_index('ix_audit_events_actor_label', table_name='audit_events')
    op.drop_index('ix_audit_events_object_seq', table_name='audit_events')
    op.drop_index('ix_audit_events_action_seq', table_name='audit_events')
    op.create_index('ix_audit_events_object', 'audit_events', ['object_type', 'object_id'])
    op.create_index('ix_audit_events_action', 'audit_events', ['action'])
