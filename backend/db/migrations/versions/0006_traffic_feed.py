"""PRIM's traffic feed: each line's disruptions, and where the fleet's read of the feed stands

`line_disruptions` holds, per line, the disruptions of PRIM's `disruptions_bulk` feed (severity, periods, affected
sections, short and full message as text), replaced by every successful read. `traffic_feed` says when the feed was
last read and whether the latest read failed: line fetches fall back to per-line traffic requests meanwhile.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 17:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "line_disruptions",
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.Column("disruption_id", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("short_message", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("periods", _json(), nullable=False),
        sa.Column("sections", _json(), nullable=False),
        sa.Column("whole_line", sa.Boolean(), nullable=False),
        sa.Column("last_update_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("line_id", "disruption_id"),
    )
    op.create_table(
        "traffic_feed",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("disruptions_count", sa.Integer(), nullable=False),
        sa.Column("lines_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("traffic_feed")
    op.drop_table("line_disruptions")
