"""Durable work: the outbox, job progress records, remote operations and their steps.

Revision ID: 0005_durable_work
Revises: 0004_holds_retention
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_durable_work'
down_revision = '0004_holds_retention'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('job', sa.String(length=200), nullable=False),
    sa.Column('arguments', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('key', name=op.f('uq_outbox_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_state_next', ['state', 'next_attempt_at'], unique=False)

    op.create_table('remote_operations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=True),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('remote_ids', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('runner', sa.String(length=32), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remote_operations')),
    sa.UniqueConstraint('key', name=op.f('uq_remote_operations_key'))
    )
    with op.batch_alter_table('remote_operations', schema=None) as batch_op:
        batch_op.create_index('ix_remote_operations_object', ['object_type', 'object_id'], unique=False)

    op.create_table('remote_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('operation_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('arguments', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('remote_request_id', sa.String(length=120), nullable=True),
    sa.Column('outcome', sa.JSON(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['operation_id'], ['remote_operations.id'], name=op.f('fk_remote_steps_operation_id_remote_operations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remote_steps')),
    sa.UniqueConstraint('operation_id', 'position', name=op.f('uq_remote_steps_operation_id_position'))
    )
    with op.batch_alter_table('remote_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remote_steps_operation_id'), ['operation_id'], unique=False)

    op.create_table('job_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.Column('outbox_entry_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['outbox_entry_id'], ['outbox.id'], name=op.f('fk_job_progress_outbox_entry_id_outbox')),
    sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], name=op.f('fk_job_progress_started_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_progress'))
    )
    with op.batch_alter_table('job_progress', schema=None) as batch_op:
        batch_op.create_index('ix_job_progress_object', ['object_type', 'object_id', 'kind'], unique=False)



def downgrade():
    with op.batch_alter_table('job_progress', schema=None) as batch_op:
        batch_op.drop_index('ix_job_progress_object')

    op.drop_table('job_progress')
    with op.batch_alter_table('remote_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remote_steps_operation_id'))

    op.drop_table('remote_steps')
    with op.batch_alter_table('remote_operations', schema=None) as batch_op:
        batch_op.drop_index('ix_remote_operations_object')

    op.drop_table('remote_operations')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_state_next')

    op.drop_table('outbox')
