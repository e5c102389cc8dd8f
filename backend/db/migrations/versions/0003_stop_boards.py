"""per-stop board freshness, and why a line's data is missing

`stop_boards` records each (line, station) board's own latest attempt and latest answer, so that one stop's failure
never ages or deletes another stop's data. `line_snapshots` gains the reason code of its status and the count of
the line's stops that failed in its latest fetch.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 21:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stop_boards",
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.Column("station_id", sa.String(length=96), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("departures_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("task_run_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("line_id", "station_id"),
    )
    with op.batch_alter_table("line_snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("stops_total", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("stops_failed", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("line_snapshots", schema=None) as batch_op:
        batch_op.drop_column("stops_failed")
        batch_op.drop_column("stops_total")
        batch_op.drop_column("reason")
    op.drop_table("stop_boards")
