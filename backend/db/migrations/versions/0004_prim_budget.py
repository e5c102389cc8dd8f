"""the PRIM budget shared by the fleet, the key's state, viewing leases and task priority

`upstream_budgets` holds, per PRIM API, what the key allows (per day and per second, as PRIM's rate-limit headers
say, the configured quotas being upper bounds), what remains until the reset, and the fleet-wide pacing slot.
`upstream_key_status` says whether PRIM rejected the key. `line_views` are the viewing leases of the lines riders
are looking at; `task_runs.priority` lets their fetches pass the periodic cycle's.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 14:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upstream_budgets",
        sa.Column("api", sa.String(length=32), nullable=False),
        sa.Column("daily_limit", sa.Integer(), nullable=False),
        sa.Column("daily_limit_source", sa.String(length=16), nullable=False),
        sa.Column("per_second_limit", sa.Integer(), nullable=True),
        sa.Column("spacing_seconds", sa.Float(), nullable=False),
        sa.Column("next_slot_epoch", sa.Float(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("used_today", sa.Integer(), nullable=False),
        sa.Column("refused_today", sa.Integer(), nullable=False),
        sa.Column("held_back_today", sa.Integer(), nullable=False),
        sa.Column("day_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reset_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("api"),
    )
    op.create_table(
        "upstream_key_status",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_table(
        "line_views",
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.Column("first_viewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_viewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("line_id"),
    )
    op.create_index("ix_line_views_expires", "line_views", ["expires_at"])
    with op.batch_alter_table("task_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("task_runs", schema=None) as batch_op:
        batch_op.drop_column("priority")
    op.drop_index("ix_line_views_expires", table_name="line_views")
    op.drop_table("line_views")
    op.drop_table("upstream_key_status")
    op.drop_table("upstream_budgets")
