"""Envelope encryption: each blob's data key, wrapped by a master key (blob_keys)

Blobs written before this revision (RFB1, encrypted directly by a master key) have no row and
still read; ``flask --app referrals storage reencrypt-legacy`` gives them one.

Revision ID: 0021_blob_keys
Revises: 0020_agency_directory
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021_blob_keys'
down_revision = '0020_agency_directory'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('blob_keys',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('master_key_id', sa.Integer(), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rewrapped_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_blob_keys'))
    )
    with op.batch_alter_table('blob_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_blob_keys_master_key_id'), ['master_key_id'],
                              unique=False)


def downgrade():
    # Dropping the rows would make every envelope blob unreadable for good: refuse.
    if op.get_bind().execute(sa.text("SELECT count(*) FROM blob_keys")).scalar():
        raise RuntimeError("blob_keys holds the data keys of stored blobs: dropping it would "
                           "make them unreadable. Downgrade refused.")
    with op.batch_alter_table('blob_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_blob_keys_master_key_id'))
    op.drop_table('blob_keys')
