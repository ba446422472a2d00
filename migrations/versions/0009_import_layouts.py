"""CSV import: upload sizes for the per-person quota, and remembered column layouts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 19:50:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("import_uploads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("size", sa.Integer(), server_default="0", nullable=False))
    op.execute("UPDATE import_uploads SET size = length(content)")
    op.create_table(
        "import_layouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("data_source_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("date_order", sa.String(length=3), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_source_id"],
            ["data_sources.id"],
            name=op.f("fk_import_layouts_data_source_id_data_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_layouts")),
        sa.UniqueConstraint("data_source_id", "key", name=op.f("uq_import_layouts_data_source_id")),
    )
    op.create_index(
        op.f("ix_import_layouts_data_source_id"), "import_layouts", ["data_source_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_import_layouts_data_source_id"), table_name="import_layouts")
    op.drop_table("import_layouts")
    with op.batch_alter_table("import_uploads", schema=None) as batch_op:
        batch_op.drop_column("size")
