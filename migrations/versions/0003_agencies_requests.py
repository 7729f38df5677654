"""Agency registry (domains, call-back numbers, keys), officer approval, disclosure requests.

Revision ID: 0003_agencies_requests
Revises: 0002_cases_evidence_tokens
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_agencies_requests'
down_revision = '0002_cases_evidence_tokens'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('request_counters',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_request_counters'))
    )
    op.create_table('agency_domains',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_agency_domains_agency_id_agencies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_domains')),
    sa.UniqueConstraint('domain', name=op.f('uq_agency_domains_domain'))
    )
    with op.batch_alter_table('agency_domains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_domains_agency_id'), ['agency_id'], unique=False)

    op.create_table('agency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.String(length=200), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_agency_keys_agency_id_agencies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_keys'))
    )
    with op.batch_alter_table('agency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_keys_agency_id'), ['agency_id'], unique=False)

    op.create_table('agency_phones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_agency_phones_agency_id_agencies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_phones'))
    )
    with op.batch_alter_table('agency_phones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_phones_agency_id'), ['agency_id'], unique=False)

    op.create_table('disclosure_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('request_type', sa.String(length=32), nullable=False),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('addressed_to', sa.String(length=8), nullable=False),
    sa.Column('issuing_authority', sa.String(length=300), nullable=False),
    sa.Column('officer_name', sa.String(length=200), nullable=False),
    sa.Column('badge_number', sa.String(length=64), nullable=False),
    sa.Column('official_email', sa.String(length=255), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('data_categories', sa.JSON(), nullable=False),
    sa.Column('date_from', sa.Date(), nullable=True),
    sa.Column('date_to', sa.Date(), nullable=True),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('offences', sa.Text(), nullable=False),
    sa.Column('user_notice_allowed', sa.Boolean(), nullable=False),
    sa.Column('nondisclosure_order', sa.Boolean(), nullable=False),
    sa.Column('nondisclosure_until', sa.Date(), nullable=True),
    sa.Column('emergency_description', sa.Text(), nullable=False),
    sa.Column('person_at_risk', sa.Text(), nullable=False),
    sa.Column('why_data_helps', sa.Text(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.Column('prepared_by_id', sa.Integer(), nullable=True),
    sa.Column('prepared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('collected_by_id', sa.Integer(), nullable=True),
    sa.Column('disclosed_by_id', sa.Integer(), nullable=True),
    sa.Column('disclosed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('callback_number', sa.String(length=20), nullable=True),
    sa.Column('callback_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('callback_by_id', sa.Integer(), nullable=True),
    sa.Column('callback_outcome', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_disclosure_requests_agency_id_agencies')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_disclosure_requests_approved_by_id_users')),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_disclosure_requests_assignee_id_users')),
    sa.ForeignKeyConstraint(['callback_by_id'], ['users.id'], name=op.f('fk_disclosure_requests_callback_by_id_users')),
    sa.ForeignKeyConstraint(['collected_by_id'], ['users.id'], name=op.f('fk_disclosure_requests_collected_by_id_users')),
    sa.ForeignKeyConstraint(['disclosed_by_id'], ['users.id'], name=op.f('fk_disclosure_requests_disclosed_by_id_users')),
    sa.ForeignKeyConstraint(['prepared_by_id'], ['users.id'], name=op.f('fk_disclosure_requests_prepared_by_id_users')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_disclosure_requests_submitted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_requests')),
    sa.UniqueConstraint('reference', name=op.f('uq_disclosure_requests_reference'))
    )
    with op.batch_alter_table('disclosure_requests', schema=None) as batch_op:
        batch_op.create_index('ix_requests_agency', ['agency_id', 'received_at'], unique=False)
        batch_op.create_index('ix_requests_queue', ['is_open', 'emergency', 'deadline_at', 'id'], unique=False)

    op.create_table('disclosures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('data_categories', sa.JSON(), nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=False),
    sa.Column('disclosed_by_id', sa.Integer(), nullable=False),
    sa.Column('disclosed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('package_sha256', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_disclosures_agency_id_agencies')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_disclosures_approved_by_id_users')),
    sa.ForeignKeyConstraint(['disclosed_by_id'], ['users.id'], name=op.f('fk_disclosures_disclosed_by_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['disclosure_requests.id'], name=op.f('fk_disclosures_request_id_disclosure_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosures'))
    )
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosures_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosures_request_id'), ['request_id'], unique=False)

    op.create_table('legal_process_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('storage_name', sa.String(length=32), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['disclosure_requests.id'], name=op.f('fk_legal_process_documents_request_id_disclosure_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_legal_process_documents_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_process_documents'))
    )
    with op.batch_alter_table('legal_process_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legal_process_documents_request_id'), ['request_id'], unique=False)

    op.create_table('request_collaborators',
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['disclosure_requests.id'], name=op.f('fk_request_collaborators_request_id_disclosure_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_request_collaborators_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('request_id', 'user_id', name=op.f('pk_request_collaborators'))
    )
    with op.batch_alter_table('request_collaborators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_collaborators_user_id'), ['user_id'], unique=False)

    op.create_table('request_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('from_agency', sa.Boolean(), nullable=False),
    sa.Column('internal', sa.Boolean(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_request_messages_author_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['disclosure_requests.id'], name=op.f('fk_request_messages_request_id_disclosure_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_messages'))
    )
    with op.batch_alter_table('request_messages', schema=None) as batch_op:
        batch_op.create_index('ix_request_messages_request', ['request_id', 'created_at'], unique=False)

    op.create_table('request_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.Column('normalized', sa.String(length=320), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['disclosure_requests.id'], name=op.f('fk_request_targets_request_id_disclosure_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_targets'))
    )
    with op.batch_alter_table('request_targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_targets_normalized'), ['normalized'], unique=False)
        batch_op.create_index(batch_op.f('ix_request_targets_request_id'), ['request_id'], unique=False)

    op.create_table('user_notice_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_user_notice_tasks_done_by_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['disclosure_requests.id'], name=op.f('fk_user_notice_tasks_request_id_disclosure_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_notice_tasks')),
    sa.UniqueConstraint('request_id', name=op.f('uq_user_notice_tasks_request_id'))
    )
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_entity', sa.String(length=8), nullable=False, server_default='us'))
        batch_op.add_column(sa.Column('notes', sa.Text(), nullable=False, server_default=''))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('badge_number', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('approved_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_users_approved_by_id_users'), 'users', ['approved_by_id'], ['id'])

    # Officers made before approval existed were made by staff: confirmed and approved then.
    op.execute("UPDATE users SET confirmed_at = created_at WHERE kind = 'agency' AND confirmed_at IS NULL")
    op.execute("UPDATE users SET approved_at = created_at WHERE kind = 'agency' AND approved_at IS NULL")



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_approved_by_id_users'), type_='foreignkey')
        batch_op.drop_column('approved_by_id')
        batch_op.drop_column('approved_at')
        batch_op.drop_column('badge_number')

    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.drop_column('notes')
        batch_op.drop_column('legal_entity')

    op.drop_table('user_notice_tasks')
    with op.batch_alter_table('request_targets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_targets_request_id'))
        batch_op.drop_index(batch_op.f('ix_request_targets_normalized'))

    op.drop_table('request_targets')
    with op.batch_alter_table('request_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_request_messages_request')

    op.drop_table('request_messages')
    with op.batch_alter_table('request_collaborators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_collaborators_user_id'))

    op.drop_table('request_collaborators')
    with op.batch_alter_table('legal_process_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_process_documents_request_id'))

    op.drop_table('legal_process_documents')
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosures_request_id'))
        batch_op.drop_index(batch_op.f('ix_disclosures_agency_id'))

    op.drop_table('disclosures')
    with op.batch_alter_table('disclosure_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_requests_queue')
        batch_op.drop_index('ix_requests_agency')

    op.drop_table('disclosure_requests')
    with op.batch_alter_table('agency_phones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_phones_agency_id'))

    op.drop_table('agency_phones')
    with op.batch_alter_table('agency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_keys_agency_id'))

    op.drop_table('agency_keys')
    with op.batch_alter_table('agency_domains', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_domains_agency_id'))

    op.drop_table('agency_domains')
    op.drop_table('request_counters')
