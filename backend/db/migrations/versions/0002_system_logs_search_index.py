"""system_logs text search index (Postgres only)

A trigram GIN index on the text `search=` looks in (the message and the extra fields' JSON), so that a
case-insensitive substring search stays fast on millions of rows. SQLite has no equivalent and scans.
The expression must stay identical to `backend.logs.repository.SEARCH_TEXT_SQL`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 10:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_TEXT_SQL = "message || ' ' || (extra)::text"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # A GIN build is much faster with more memory than the 64 MB default; LOCAL keeps it to this transaction.
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_system_logs_search_trgm "
        f"ON system_logs USING gin (({SEARCH_TEXT_SQL}) gin_trgm_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_system_logs_search_trgm")
    # The pg_trgm extension stays: other objects of the database may use it, and it costs nothing unused.
