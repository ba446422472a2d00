"""Reading breaks for fast usage: where a source's values stop rising, kept from a stale list

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 19:05:00.000000

On PostgreSQL, a statement trigger on readings notes in reading_breaks_stale from which
instant a source's breaks must be recomputed, for every insert, delete and update of a
timestamp, value or source, whoever writes (app, sync, COPY imports, SQL by hand). A row that
already covers the instant is share-locked instead of adding another, so a source gets few
rows however many readings arrive, and a recompute in progress skips it (homelog/usage_db/stream.py
recomputes from a row only after locking it). Existing readings start stale. SQLite gets the
tables, unused: usage there always reads every reading.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

MARK_FUNCTION = """
CREATE FUNCTION reading_breaks_mark(source integer, changed_at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- A row already covering the instant is kept (and share-locked, so that a recompute
    -- running now skips it and it stays for the next one) instead of adding another.
    PERFORM 1 FROM reading_breaks_stale s
        WHERE s.data_source_id = source AND s.since <= changed_at
        LIMIT 1 FOR KEY SHARE;
    IF NOT FOUND THEN
        -- Not for a source being deleted (its readings go by cascade).
        INSERT INTO reading_breaks_stale (data_source_id, since)
        SELECT d.id, changed_at FROM data_sources d WHERE d.id = source;
    END IF;
END
$$
"""

TRIGGER_FUNCTION = """
CREATE FUNCTION reading_breaks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM reading_breaks_mark(c.source, c.since) FROM (
            SELECT data_source_id AS source, min("timestamp") AS since FROM new_rows
            GROUP BY data_source_id ORDER BY data_source_id) AS c;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM reading_breaks_mark(c.source, c.since) FROM (
            SELECT data_source_id AS source, min("timestamp") AS since FROM old_rows
            GROUP BY data_source_id ORDER BY data_source_id) AS c;
    ELSE
        -- Only changes that can move a break: timestamp, values or source (not a note).
        PERFORM reading_breaks_mark(c.source, c.since) FROM (
            SELECT source, min(at) AS since FROM (
                SELECT unnest(ARRAY[o.data_source_id, n.data_source_id]) AS source,
                       unnest(ARRAY[o."timestamp", n."timestamp"]) AS at
                FROM old_rows o JOIN new_rows n ON n.id = o.id
                WHERE (o.data_source_id, o."timestamp", o."values"::text)
                      IS DISTINCT FROM (n.data_source_id, n."timestamp", n."values"::text)
            ) AS moved GROUP BY source ORDER BY source) AS c;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade():
    op.create_table('reading_breaks',
    sa.Column('data_source_id', sa.Integer(), nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reading_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['data_source_id'], ['data_sources.id'], name=op.f('fk_reading_breaks_data_source_id_data_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('data_source_id', 'timestamp', 'reading_id', name=op.f('pk_reading_breaks'))
    )
    op.create_table('reading_breaks_stale',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('data_source_id', sa.Integer(), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['data_source_id'], ['data_sources.id'], name=op.f('fk_reading_breaks_stale_data_source_id_data_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reading_breaks_stale'))
    )
    op.create_index('ix_reading_breaks_stale_source_since', 'reading_breaks_stale', ['data_source_id', 'since'], unique=False)
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(MARK_FUNCTION)
    op.execute(TRIGGER_FUNCTION)
    op.execute("CREATE TRIGGER readings_breaks_insert AFTER INSERT ON readings "
               "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
               "EXECUTE FUNCTION reading_breaks_changed()")
    op.execute("CREATE TRIGGER readings_breaks_delete AFTER DELETE ON readings "
               "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
               "EXECUTE FUNCTION reading_breaks_changed()")
    op.execute("CREATE TRIGGER readings_breaks_update AFTER UPDATE ON readings "
               "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
               "EXECUTE FUNCTION reading_breaks_changed()")
    # Every source's existing readings: recomputed on first use.
    op.execute('INSERT INTO reading_breaks_stale (data_source_id, since) '
               'SELECT data_source_id, min("timestamp") FROM readings GROUP BY data_source_id')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for name in ('insert', 'delete', 'update'):
            op.execute(f'DROP TRIGGER readings_breaks_{name} ON readings')
        op.execute('DROP FUNCTION reading_breaks_changed()')
        op.execute('DROP FUNCTION reading_breaks_mark(integer, timestamptz)')
    op.drop_index('ix_reading_breaks_stale_source_since', table_name='reading_breaks_stale')
    op.drop_table('reading_breaks_stale')
    op.drop_table('reading_breaks')
