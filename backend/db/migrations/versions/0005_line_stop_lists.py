"""when each bus line's stops were fetched from an upstream

`line_stop_lists` says, per line without catalogue stations (bus lines), which source gave the stops now in
`line_stations` and when, so that workers reuse them for a day (`BUS_STOPS_REFRESH_HOURS`) instead of asking
PRIM's Navitia at every fetch.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 14:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "line_stop_lists",
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stations_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("line_id"),
    )


def downgrade() -> None:
    op.drop_table("line_stop_lists")
