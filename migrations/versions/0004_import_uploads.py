"""CSV import uploads kept between preview and confirmation

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 18:28:06.494442

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('import_uploads',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('data_source_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['data_source_id'], ['data_sources.id'], name=op.f('fk_import_uploads_data_source_id_data_sources'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_import_uploads_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_uploads'))
    )
    op.create_index(op.f('ix_import_uploads_data_source_id'), 'import_uploads', ['data_source_id'], unique=False)
    op.create_index(op.f('ix_import_uploads_user_id'), 'import_uploads', ['user_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_import_uploads_user_id'), table_name='import_uploads')
    op.drop_index(op.f('ix_import_uploads_data_source_id'), table_name='import_uploads')
    op.drop_table('import_uploads')
