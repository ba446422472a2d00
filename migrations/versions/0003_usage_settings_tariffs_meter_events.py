"""Usage and costs: tariffs, meter swaps, source usage settings, confirmed readings, currency

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 18:03:00.958014

Columns are added with plain ALTER TABLE (no batch copy of the table): on SQLite a batch
"move and copy" of data_sources would drop the old table, and with foreign keys on that
DROP cascades to every reading. SQLite takes a column's CHECK constraint in ADD COLUMN and
can DROP a column whose CHECK is its own, so cycle_day is added with raw SQL there.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

CYCLE_DAY_CHECK = "cycle_day BETWEEN 1 AND 31"


def upgrade():
    op.create_table('meter_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('data_source_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('old_final', sa.JSON(), nullable=False),
    sa.Column('new_start', sa.JSON(), nullable=False),
    sa.Column('rollover_at', sa.JSON(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_meter_events_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['data_source_id'], ['data_sources.id'], name=op.f('fk_meter_events_data_source_id_data_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meter_events')),
    sa.UniqueConstraint('data_source_id', 'at', name=op.f('uq_meter_events_data_source_id'))
    )
    op.create_index(op.f('ix_meter_events_created_by_id'), 'meter_events', ['created_by_id'], unique=False)

    op.create_table('tariffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('data_source_id', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=50), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('standing_charge', sa.Numeric(precision=12, scale=6), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['data_source_id'], ['data_sources.id'], name=op.f('fk_tariffs_data_source_id_data_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tariffs')),
    sa.UniqueConstraint('data_source_id', 'metric', 'effective_from', name=op.f('uq_tariffs_data_source_id'))
    )

    op.add_column('data_sources', sa.Column('rollover_at', sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(
            "ALTER TABLE data_sources ADD COLUMN cycle_day SMALLINT DEFAULT '1' NOT NULL "
            f"CONSTRAINT ck_data_sources_cycle_day CHECK ({CYCLE_DAY_CHECK})"
        )
    else:
        op.add_column('data_sources', sa.Column('cycle_day', sa.SmallInteger(), server_default='1', nullable=False))
        op.create_check_constraint(op.f('ck_data_sources_cycle_day'), 'data_sources', CYCLE_DAY_CHECK)
    op.add_column('data_sources', sa.Column('monthly_advance', sa.Numeric(precision=12, scale=2), nullable=True))
    op.add_column('data_sources', sa.Column('billing_year_start', sa.Date(), nullable=True))
    op.add_column('data_sources', sa.Column('max_gap_hours', sa.Integer(), server_default='48', nullable=False))
    op.add_column('readings', sa.Column('confirmed', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('users', sa.Column('currency', sa.String(length=3), server_default='EUR', nullable=False))


def downgrade():
    op.drop_column('users', 'currency')
    op.drop_column('readings', 'confirmed')
    op.drop_column('data_sources', 'max_gap_hours')
    op.drop_column('data_sources', 'billing_year_start')
    op.drop_column('data_sources', 'monthly_advance')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f('ck_data_sources_cycle_day'), 'data_sources', type_='check')
    op.drop_column('data_sources', 'cycle_day')
    op.drop_column('data_sources', 'rollover_at')

    op.drop_table('tariffs')
    op.drop_index(op.f('ix_meter_events_created_by_id'), table_name='meter_events')
    op.drop_table('meter_events')
