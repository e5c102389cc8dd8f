"""stop ids learnt at run time, shared by every worker

`line_stop_refs` keeps the upstream ids of a line's stations that were looked up at run time (PRIM's Navitia stop
areas, ratp.fr's stop places) and `line_stop_lookups` when each look-up was made, so that a line moving to another
worker (or a restarted one) is not looked up again. The catalogue sync does not touch them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 17:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "line_stop_refs",
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.Column("station_id", sa.String(length=96), nullable=False),
        sa.Column("upstream_name", sa.String(length=200), nullable=False),
        sa.Column("stop_area_id", sa.String(length=32), nullable=True),
        sa.Column("stop_place_ref", sa.String(length=64), nullable=True),
        sa.Column("ratp_line_ref", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("line_id", "station_id"),
    )
    op.create_table(
        "line_stop_lookups",
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("looked_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("line_id", "source"),
    )


def downgrade() -> None:
    op.drop_table("line_stop_lookups")
    op.drop_table("line_stop_refs")
