"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 09:48:13.748203
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fleet_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "lines",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("network", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("idfm_line_id", sa.String(length=32), nullable=True),
        sa.Column("colour", sa.String(length=7), nullable=False),
        sa.Column("text_colour", sa.String(length=7), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lines_network"), ["network"], unique=False)

    op.create_table(
        "scheduler_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lines_total", sa.Integer(), nullable=False),
        sa.Column("enqueued", sa.Integer(), nullable=False),
        sa.Column("coalesced", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scheduler_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scheduler_runs_started_at"), ["started_at"], unique=False
        )

    op.create_table(
        "stations",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("search_name", sa.String(length=160), nullable=False),
        sa.Column("town", sa.String(length=96), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stations_search_name"), ["search_name"], unique=False
        )

    op.create_table(
        "system_logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("level_no", sa.Integer(), nullable=False),
        sa.Column("logger", sa.String(length=128), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "extra",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("system_logs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_system_logs_created", ["created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_system_logs_level_created", ["level_no", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_system_logs_service_created", ["service", "created_at"], unique=False
        )

    op.create_table(
        "task_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(length=128), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("scheduler_run_id", sa.BigInteger(), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "result",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("task_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_task_runs_line_scheduled", ["line_id", "scheduled_at"], unique=False
        )
        batch_op.create_index(
            "ix_task_runs_scheduled_at", ["scheduled_at"], unique=False
        )
        batch_op.create_index(
            "ix_task_runs_status_available", ["status", "available_at"], unique=False
        )
        batch_op.create_index(
            "ix_task_runs_unpublished",
            ["available_at"],
            unique=False,
            postgresql_where=sa.text("status = 'queued' AND published_at IS NULL"),
            sqlite_where=sa.text("status = 'queued' AND published_at IS NULL"),
        )
        batch_op.create_index(
            "uq_task_runs_active_line",
            ["line_id"],
            unique=True,
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        )

    op.create_table(
        "upstream_usage",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "day"),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bus", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_task_id", sa.String(length=36), nullable=True),
        sa.Column("current_line_id", sa.String(length=32), nullable=True),
        sa.Column("processed_count", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "assigned_partitions",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_workers_last_heartbeat", ["last_heartbeat_at"], unique=False
        )

    op.create_table(
        "departures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.Column("station_id", sa.String(length=96), nullable=False),
        sa.Column("direction", sa.String(length=1), nullable=False),
        sa.Column("destination", sa.String(length=160), nullable=False),
        sa.Column("expected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("aimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_realtime", sa.Boolean(), nullable=False),
        sa.Column("vehicle_at_stop", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("task_run_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("departures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_departures_line_station_expected",
            ["line_id", "station_id", "expected_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_departures_station_expected",
            ["station_id", "expected_at"],
            unique=False,
        )

    op.create_table(
        "line_snapshots",
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("departures_count", sa.Integer(), nullable=False),
        sa.Column("positions_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "attempts",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("task_run_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("line_id"),
    )
    op.create_table(
        "line_stations",
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=1), nullable=False),
        sa.Column("branch", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=96), nullable=False),
        sa.Column("upstream_ref", sa.String(length=96), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("line_id", "direction", "branch", "position"),
    )
    with op.batch_alter_table("line_stations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_line_stations_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "traffic_status",
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("line_id"),
    )
    op.create_table(
        "vehicle_positions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.Column("vehicle_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=1), nullable=False),
        sa.Column("previous_station_id", sa.String(length=96), nullable=True),
        sa.Column("next_station_id", sa.String(length=96), nullable=True),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("stop_status", sa.String(length=32), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("vehicle_positions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_vehicle_positions_line", ["line_id", "direction"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("vehicle_positions", schema=None) as batch_op:
        batch_op.drop_index("ix_vehicle_positions_line")

    op.drop_table("vehicle_positions")
    op.drop_table("traffic_status")
    with op.batch_alter_table("line_stations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_line_stations_station_id"))

    op.drop_table("line_stations")
    op.drop_table("line_snapshots")
    with op.batch_alter_table("departures", schema=None) as batch_op:
        batch_op.drop_index("ix_departures_station_expected")
        batch_op.drop_index("ix_departures_line_station_expected")

    op.drop_table("departures")
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_index("ix_workers_last_heartbeat")

    op.drop_table("workers")
    op.drop_table("upstream_usage")
    with op.batch_alter_table("task_runs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_task_runs_active_line",
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        )
        batch_op.drop_index(
            "ix_task_runs_unpublished",
            postgresql_where=sa.text("status = 'queued' AND published_at IS NULL"),
            sqlite_where=sa.text("status = 'queued' AND published_at IS NULL"),
        )
        batch_op.drop_index("ix_task_runs_status_available")
        batch_op.drop_index("ix_task_runs_scheduled_at")
        batch_op.drop_index("ix_task_runs_line_scheduled")

    op.drop_table("task_runs")
    with op.batch_alter_table("system_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_system_logs_service_created")
        batch_op.drop_index("ix_system_logs_level_created")
        batch_op.drop_index("ix_system_logs_created")

    op.drop_table("system_logs")
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stations_search_name"))

    op.drop_table("stations")
    with op.batch_alter_table("scheduler_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduler_runs_started_at"))

    op.drop_table("scheduler_runs")
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lines_network"))

    op.drop_table("lines")
    op.drop_table("fleet_settings")
