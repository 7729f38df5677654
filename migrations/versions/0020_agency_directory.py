"""The agency directory: the .gov registry, staff-kept official domains, the look-alike
index; officers' re-confirmation and suspension pending review

Revision ID: 0020_agency_directory
Revises: 0019_audit_review
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020_agency_directory'
down_revision = '0019_audit_review'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('directory_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('domain_type', sa.String(length=64), nullable=False),
    sa.Column('organization', sa.String(length=300), nullable=False),
    sa.Column('suborganization', sa.String(length=300), nullable=False),
    sa.Column('city', sa.String(length=120), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_entries')),
    sa.UniqueConstraint('domain', name=op.f('uq_directory_entries_domain'))
    )
    with op.batch_alter_table('directory_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_entries_removed_at'), ['removed_at'],
                              unique=False)
    op.create_table('directory_name_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('old_organization', sa.String(length=300), nullable=False),
    sa.Column('new_organization', sa.String(length=300), nullable=False),
    sa.Column('old_suborganization', sa.String(length=300), nullable=False),
    sa.Column('new_suborganization', sa.String(length=300), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['directory_entries.id'],
                            name=op.f('fk_directory_name_changes_entry_id_directory_entries'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_name_changes'))
    )
    with op.batch_alter_table('directory_name_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_name_changes_entry_id'), ['entry_id'],
                              unique=False)
    op.create_table('official_domains',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('organization', sa.String(length=300), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('checked_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_by_label', sa.String(length=255), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['checked_by_id'], ['users.id'],
                            name=op.f('fk_official_domains_checked_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_official_domains')),
    sa.UniqueConstraint('domain', name=op.f('uq_official_domains_domain'))
    )
    op.create_table('directory_lookalike_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('list_kind', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_lookalike_keys'))
    )
    with op.batch_alter_table('directory_lookalike_keys', schema=None) as batch_op:
        batch_op.create_index('ix_directory_lookalike_keys_key', ['key'], unique=False)
        batch_op.create_index('ix_directory_lookalike_keys_domain', ['domain'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approved_domains', sa.Text(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('reconfirmation_sent_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('suspended_reason', sa.String(length=300), nullable=False,
                                      server_default=''))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('suspended_reason')
        batch_op.drop_column('suspended_at')
        batch_op.drop_column('reconfirmation_sent_at')
        batch_op.drop_column('approved_domains')
    with op.batch_alter_table('directory_lookalike_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_directory_lookalike_keys_domain')
        batch_op.drop_index('ix_directory_lookalike_keys_key')
    op.drop_table('directory_lookalike_keys')
    op.drop_table('official_domains')
    with op.batch_alter_table('directory_name_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directory_name_changes_entry_id'))
    op.drop_table('directory_name_changes')
    with op.batch_alter_table('directory_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directory_entries_removed_at'))
    op.drop_table('directory_entries')
