"""One disclosure record for everything that leaves; evidence items carry their data category.

Existing disclosures (productions for requests) keep their facts: the recipient's name and
country are copied from the agency, the preparer from the request, the JSON lists of data
categories and targets become rows, and every item collected for the request becomes a
disclosed item with its SHA-256. Evidence collected from the platform gets its data category
from the rule that used to recover it from the file name (records: ``<category>-…json``; a
content file: its description "File from <category> data …").

Revision ID: 0008_disclosures
Revises: 0007_ncmec_reports
Create Date: 2026-12-01
"""
import json
import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_disclosures'
down_revision = '0007_ncmec_reports'
branch_labels = None
depends_on = None

# The data category vocabulary as it stood at this revision (a migration does not follow the
# application's later changes).
CATEGORIES = ("subscriber", "login_logout", "interaction", "content", "transaction")
_RECORDS_NAME = re.compile(r"^(?P<category>[a-z_]+)-")
_FILE_DESCRIPTION = re.compile(r"^File from (?P<category>[a-z_]+) data ")


# Only the columns the data steps read or write (the old lists and the new facts alike).
DISCLOSURES = sa.table(
    'disclosures', sa.column('id', sa.Integer), sa.column('request_id', sa.Integer),
    sa.column('agency_id', sa.Integer), sa.column('data_categories', sa.JSON),
    sa.column('targets', sa.JSON), sa.column('kind', sa.String),
    sa.column('recipient_name', sa.String), sa.column('recipient_country', sa.String),
    sa.column('prepared_by_id', sa.Integer))
CATEGORY_ROWS = sa.table('disclosure_categories', sa.column('disclosure_id', sa.Integer),
                         sa.column('category', sa.String))
SUBJECT_ROWS = sa.table('disclosure_subjects', sa.column('id', sa.Integer),
                        sa.column('disclosure_id', sa.Integer), sa.column('kind', sa.String),
                        sa.column('identifier', sa.String))


def category_from_name(original_name, description, platform_content_id):
    """The rule the application used before the category was a column."""
    if platform_content_id is None and (original_name or "").endswith(".json"):
        match = _RECORDS_NAME.match(original_name)
    else:
        match = _FILE_DESCRIPTION.match(description or "")
    category = match.group("category") if match else None
    return category if category in CATEGORIES else None


def _as_list(value):
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else list(value)


def upgrade():
    bind = op.get_bind()
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_category', sa.String(length=24), nullable=True))

    items = sa.table('evidence_items', sa.column('id', sa.Integer), sa.column('request_id', sa.Integer),
                     sa.column('hold_id', sa.Integer), sa.column('original_name', sa.String),
                     sa.column('description', sa.Text), sa.column('platform_content_id', sa.String),
                     sa.column('data_category', sa.String), sa.column('sha256', sa.String))
    # Only what was collected from the platform was ever named by the rule; an upload has no
    # recorded category (shown as "—").
    collected = bind.execute(sa.select(
        items.c.id, items.c.original_name, items.c.description, items.c.platform_content_id)
        .where(sa.or_(items.c.request_id.is_not(None), items.c.hold_id.is_not(None)))).all()
    for row in collected:
        category = category_from_name(row.original_name, row.description, row.platform_content_id)
        if category is not None:
            bind.execute(items.update().where(items.c.id == row.id).values(data_category=category))

    op.create_table('disclosure_categories',
    sa.Column('disclosure_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=24), nullable=False),
    sa.ForeignKeyConstraint(['disclosure_id'], ['disclosures.id'], name=op.f('fk_disclosure_categories_disclosure_id_disclosures'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('disclosure_id', 'category', name=op.f('pk_disclosure_categories'))
    )
    op.create_table('disclosure_subjects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('disclosure_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('identifier', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['disclosure_id'], ['disclosures.id'], name=op.f('fk_disclosure_subjects_disclosure_id_disclosures'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_subjects'))
    )
    with op.batch_alter_table('disclosure_subjects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_subjects_disclosure_id'), ['disclosure_id'], unique=False)

    op.create_table('disclosed_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('disclosure_id', sa.Integer(), nullable=False),
    sa.Column('evidence_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data_category', sa.String(length=24), nullable=True),
    sa.ForeignKeyConstraint(['disclosure_id'], ['disclosures.id'], name=op.f('fk_disclosed_items_disclosure_id_disclosures'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence_items.id'], name=op.f('fk_disclosed_items_evidence_id_evidence_items'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosed_items')),
    sa.UniqueConstraint('disclosure_id', 'evidence_id', name=op.f('uq_disclosed_items_disclosure_id_evidence_id'))
    )
    with op.batch_alter_table('disclosed_items', schema=None) as batch_op:
        batch_op.create_index('ix_disclosed_items_evidence', ['evidence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosed_items_disclosure_id'), ['disclosure_id'], unique=False)

    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('recipient_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('recipient_country', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('prepared_by_id', sa.Integer(), nullable=True))

    _carry_disclosures_up(bind, items)

    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=24), nullable=False)
        batch_op.alter_column('recipient_name', existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column('recipient_country', existing_type=sa.String(length=2), nullable=False)
        batch_op.alter_column('request_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f('ix_disclosures_case_id'), ['case_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_disclosures_case_id_cases'), 'cases', ['case_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_disclosures_prepared_by_id_users'), 'users', ['prepared_by_id'], ['id'])
        batch_op.drop_column('targets')
        batch_op.drop_column('data_categories')


def _carry_disclosures_up(bind, items):
    disclosures, categories, subjects = DISCLOSURES, CATEGORY_ROWS, SUBJECT_ROWS
    agencies = sa.table('agencies', sa.column('id', sa.Integer), sa.column('name', sa.String),
                        sa.column('country', sa.String))
    requests = sa.table('disclosure_requests', sa.column('id', sa.Integer),
                        sa.column('emergency', sa.Boolean), sa.column('prepared_by_id', sa.Integer))
    targets = sa.table('request_targets', sa.column('request_id', sa.Integer),
                       sa.column('kind', sa.String), sa.column('normalized', sa.String))
    disclosed = sa.table('disclosed_items', sa.column('disclosure_id', sa.Integer),
                         sa.column('evidence_id', sa.Integer), sa.column('sha256', sa.String),
                         sa.column('data_category', sa.String))
    rows = bind.execute(
        sa.select(disclosures.c.id, disclosures.c.request_id, disclosures.c.data_categories,
                  disclosures.c.targets, agencies.c.name, agencies.c.country,
                  requests.c.emergency, requests.c.prepared_by_id)
        .select_from(disclosures.join(agencies, agencies.c.id == disclosures.c.agency_id)
                     .join(requests, requests.c.id == disclosures.c.request_id))).all()
    for row in rows:
        bind.execute(disclosures.update().where(disclosures.c.id == row.id).values(
            kind="emergency_disclosure" if row.emergency else "production",
            recipient_name=row.name, recipient_country=row.country,
            prepared_by_id=row.prepared_by_id))
        chosen = set(_as_list(row.data_categories))
        for category in [c for c in CATEGORIES if c in chosen]:
            bind.execute(categories.insert().values(disclosure_id=row.id, category=category))
        kinds = dict(bind.execute(sa.select(targets.c.normalized, targets.c.kind)
                                  .where(targets.c.request_id == row.request_id)).all())
        for identifier in dict.fromkeys(_as_list(row.targets)):
            bind.execute(subjects.insert().values(disclosure_id=row.id, identifier=identifier,
                                                  kind=kinds.get(identifier, "unknown")))
        # Everything collected for the request left with its production.
        for item in bind.execute(sa.select(items.c.id, items.c.sha256, items.c.data_category)
                                 .where(items.c.request_id == row.request_id)
                                 .order_by(items.c.id)).all():
            bind.execute(disclosed.insert().values(disclosure_id=row.id, evidence_id=item.id,
                                                   sha256=item.sha256,
                                                   data_category=item.data_category))


def downgrade():
    bind = op.get_bind()
    # Before this revision a disclosure answered a request: others have nowhere to go. (Foreign
    # keys are not enforced while SQLite migrates: no cascade, so the children go first.)
    for child in ('disclosure_categories', 'disclosure_subjects', 'disclosed_items'):
        op.execute(f"DELETE FROM {child} WHERE disclosure_id IN "
                   "(SELECT id FROM disclosures WHERE request_id IS NULL)")
    op.execute("DELETE FROM disclosures WHERE request_id IS NULL")
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_categories', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('targets', sa.JSON(), nullable=True))

    disclosures, categories, subjects = DISCLOSURES, CATEGORY_ROWS, SUBJECT_ROWS
    for (disclosure_id,) in bind.execute(sa.select(disclosures.c.id)).all():
        chosen = set(bind.execute(sa.select(categories.c.category)
                                  .where(categories.c.disclosure_id == disclosure_id)).scalars())
        identifiers = list(bind.execute(sa.select(subjects.c.identifier)
                                        .where(subjects.c.disclosure_id == disclosure_id)
                                        .order_by(subjects.c.id)).scalars())
        bind.execute(disclosures.update().where(disclosures.c.id == disclosure_id).values(
            data_categories=[c for c in CATEGORIES if c in chosen], targets=identifiers))

    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.alter_column('data_categories', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('targets', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_disclosures_prepared_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_disclosures_case_id_cases'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_disclosures_case_id'))
        batch_op.alter_column('request_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('prepared_by_id')
        batch_op.drop_column('recipient_country')
        batch_op.drop_column('recipient_name')
        batch_op.drop_column('case_id')
        batch_op.drop_column('kind')

    with op.batch_alter_table('disclosed_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosed_items_disclosure_id'))
        batch_op.drop_index('ix_disclosed_items_evidence')
    op.drop_table('disclosed_items')
    with op.batch_alter_table('disclosure_subjects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_subjects_disclosure_id'))
    op.drop_table('disclosure_subjects')
    op.drop_table('disclosure_categories')

    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.drop_column('data_category')
