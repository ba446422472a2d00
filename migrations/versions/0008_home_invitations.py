"""Home invitations: sharing a home waits for the invitee to accept

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 19:50:00.000000
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('home_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('viewer', 'editor')", name=op.f('ck_home_invitations_role')),
    sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'], name=op.f('fk_home_invitations_invited_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_home_invitations_location_id_locations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_home_invitations')),
    sa.UniqueConstraint('location_id', 'email', name=op.f('uq_home_invitations_location_id'))
    )
    op.create_index(op.f('ix_home_invitations_email'), 'home_invitations', ['email'], unique=False)
    op.create_index(op.f('ix_home_invitations_invited_by_id'), 'home_invitations', ['invited_by_id'], unique=False)
    op.create_index(op.f('ix_home_invitations_location_id'), 'home_invitations', ['location_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_home_invitations_location_id'), table_name='home_invitations')
    op.drop_index(op.f('ix_home_invitations_invited_by_id'), table_name='home_invitations')
    op.drop_index(op.f('ix_home_invitations_email'), table_name='home_invitations')
    op.drop_table('home_invitations')
