"""Shared homes (location members with a role) and reading reminders on sources

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 18:43:20.217811

The reminder columns are added with plain ALTER TABLE (no batch copy of data_sources: on
SQLite that would drop the table, and with foreign keys on the DROP cascades to readings).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('location_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('viewer', 'editor')", name=op.f('ck_location_members_role')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_location_members_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_location_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_location_members')),
    sa.UniqueConstraint('location_id', 'user_id', name=op.f('uq_location_members_location_id'))
    )
    op.create_index(op.f('ix_location_members_location_id'), 'location_members', ['location_id'], unique=False)
    op.create_index(op.f('ix_location_members_user_id'), 'location_members', ['user_id'], unique=False)
    op.add_column('data_sources', sa.Column('reminder_every', sa.String(length=10), nullable=True))
    op.add_column('data_sources', sa.Column('reminder_day', sa.SmallInteger(), nullable=True))


def downgrade():
    op.drop_column('data_sources', 'reminder_day')
    op.drop_column('data_sources', 'reminder_every')
    op.drop_index(op.f('ix_location_members_user_id'), table_name='location_members')
    op.drop_index(op.f('ix_location_members_location_id'), table_name='location_members')
    op.drop_table('location_members')
