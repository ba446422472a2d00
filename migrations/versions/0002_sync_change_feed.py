"""Sync change feed: per-owner change counters and the latest change (or tombstone) per object

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 17:47:54.291502

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sync_counters',
    sa.Column('owner_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_sync_counters_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', name=op.f('pk_sync_counters'))
    )
    op.create_table('sync_changes',
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('object_id', sa.String(length=36), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('data_source_id', sa.Integer(), nullable=True),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['data_source_id'], ['data_sources.id'], name=op.f('fk_sync_changes_data_source_id_data_sources'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_sync_changes_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('kind', 'object_id', name=op.f('pk_sync_changes'))
    )
    with op.batch_alter_table('sync_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_changes_data_source_id'), ['data_source_id'], unique=False)
        batch_op.create_index('ix_sync_changes_owner_seq', ['owner_id', 'seq'], unique=True)



def downgrade():
    with op.batch_alter_table('sync_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_changes_owner_seq')
        batch_op.drop_index(batch_op.f('ix_sync_changes_data_source_id'))

    op.drop_table('sync_changes')
    op.drop_table('sync_counters')
