"""Settings: the only place that reads the environment.

Every process (api, scheduler, worker, supervisor, migrate) builds one `Settings` through `get_settings()`.
Values come from the environment, then `backend/.env`, then the repository's `.env`, then the defaults below,
which are chosen so that a newcomer's first run works with nothing configured (SQLite, no broker).
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.vocabulary import BusKind

BACKEND_DIR = Path(__file__).resolve().parent
REPO_DIR = BACKEND_DIR.parent

PLACEHOLDER_API_TOKENS = frozenset({"", "changeme", "change-me", "replace-me", "your-api-key"})

DEFAULT_SCALE_COMMAND = (
    "docker compose -p ratp -f /workspace/docker-compose.yml up -d --no-deps --no-build --no-recreate "
    "--scale worker={count} worker"
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        # Later files win: backend/.env overrides the repository's .env.
        env_file=(REPO_DIR / ".env", BACKEND_DIR / ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # --- General ---------------------------------------------------------------------------------------------
    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = REPO_DIR / ".data"
    log_level: str = "INFO"

    # --- Database --------------------------------------------------------------------------------------------
    # Empty means the embedded default: SQLite in `data_dir`.
    database_url: str = ""
    database_pool_size: int = Field(default=5, ge=1, le=100)

    # --- Task bus --------------------------------------------------------------------------------------------
    # Empty means the embedded default: the database-backed queue (no broker needed).
    kafka_bootstrap_servers: str = ""
    kafka_task_topic: str = "line-fetch-tasks"
    kafka_task_partitions: int = Field(default=48, ge=1, le=1000)
    kafka_consumer_group: str = "live-data-workers"
    kafka_max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1000)
    kafka_heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    # A worker commits its consumed offsets at most this often (always after the tasks' database commit).
    kafka_commit_interval_ms: int = Field(default=200, ge=0)

    # --- Scheduler -------------------------------------------------------------------------------------------
    scheduler_lines: str = ""
    scheduler_interval_seconds: float = Field(default=120.0, gt=0)
    # 0 means one interval plus a half-interval grace (1.5 x scheduler_interval_seconds).
    freshness_stale_after_seconds: float = Field(default=0.0, ge=0)
    scheduler_queued_expiry_cycles: int = Field(default=3, ge=1)
    # How often the scheduler looks at the budget, the viewed lines and the lines due.
    scheduler_tick_seconds: float = Field(default=5.0, gt=0)
    # A line someone is looking at is refreshed this often at most (less often when the PRIM budget cannot).
    demand_refresh_seconds: float = Field(default=60.0, gt=0)
    # A viewing lease ends this long after the last view (the dashboard's polling renews it).
    view_lease_seconds: float = Field(default=300.0, gt=0)
    task_run_retention_days: int = Field(default=7, ge=1)

    # --- Workers ---------------------------------------------------------------------------------------------
    default_worker_count: int = Field(default=16, ge=0)
    worker_max_count: int = Field(default=64, ge=1)
    worker_concurrency: int = Field(default=4, ge=1, le=256)
    # Task messages a worker takes from Kafka at once, running or waiting for one of its WORKER_CONCURRENCY slots.
    worker_prefetch: int = Field(default=64, ge=1, le=4096)
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0)
    worker_lost_after_seconds: float = Field(default=30.0, gt=0)
    worker_prune_after_seconds: float = Field(default=3600.0, gt=0)
    worker_id: str = ""
    task_timeout_seconds: float = Field(default=60.0, gt=0)
    task_max_attempts: int = Field(default=3, ge=1)
    task_retry_backoff_seconds: float = Field(default=5.0, ge=0)

    # --- Scaling ---------------------------------------------------------------------------------------------
    # auto: Docker when the socket answers, otherwise the local supervisor.
    worker_scale_backend: Literal["auto", "docker", "local"] = "auto"
    worker_scale_command: str = DEFAULT_SCALE_COMMAND
    worker_scale_timeout_seconds: float = Field(default=120.0, gt=0)
    # How long a scale request waits for the pool to reach the new count before answering with it pending.
    worker_scale_wait_seconds: float = Field(default=15.0, ge=0)
    docker_socket_path: str = "/var/run/docker.sock"

    # --- API -------------------------------------------------------------------------------------------------
    system_api_token: str = ""
    system_api_readonly_token: str = ""
    # Refused when set (see `_no_public_key_alias`): read only to tell the operator to rename it.
    next_public_system_api_key: str = ""
    api_cors_origins: str = "http://localhost:3000,http://127.0.0.1:3000"
    api_mutation_rate_per_minute: int = Field(default=30, ge=1)
    # Rider answers are served from pre-serialised snapshots; each API process checks at most this often whether a
    # worker wrote new data, in the background of the reads it serves meanwhile (0: every request checks first).
    api_snapshot_check_seconds: float = Field(default=0.5, ge=0)
    # Cache-Control max-age of rider answers: at most this, and never past the first departure leaving the board or
    # the first board turning stale.
    api_cache_max_age_seconds: float = Field(default=15.0, ge=0)
    # Swagger UI at /docs and the schema at /openapi.json; turn off for an internet-facing deployment.
    api_docs_enabled: bool = True
    # Largest request body the API reads; a larger one is refused with 413 before it is read.
    api_max_body_bytes: int = Field(default=65_536, ge=1024)

    # --- Live data sources -----------------------------------------------------------------------------------
    source_order: str = "prim,ratp_http,vmtr"
    prim_api_key: str = ""
    prim_base_url: str = "https://prim.iledefrance-mobilites.fr/marketplace"
    prim_daily_quota_departures: int = Field(default=1_000_000, ge=1)
    prim_daily_quota_traffic: int = Field(default=20_000, ge=1)
    ratp_base_url: str = "https://www.ratp.fr"
    ratp_cookie_file: Path | None = None
    playwright_seeding_enabled: bool = True
    chromium_executable_path: str = "/usr/bin/chromium"
    vmtr_socket_enabled: bool = True
    vmtr_socket_url: str = "wss://api.vmtr.ratp.fr/socket.io/"
    vmtr_origin: str = "https://vmtr.ratp.fr"
    upstream_timeout_seconds: float = Field(default=10.0, gt=0)
    # HTTP requests one worker process has in flight at once, all its line fetches together (a ceiling).
    upstream_max_concurrency: int = Field(default=64, ge=1)
    # Requests one line fetch has in flight at once, per source: a long line (RER C: 70 stops) fans out on its own
    # slots instead of queueing behind the process's other fetches. PRIM's pacing (PRIM_RATE_LIMIT_PER_SECOND, shared
    # by the fleet) still applies to every PRIM request.
    prim_line_concurrency: int = Field(default=16, ge=1, le=256)
    ratp_line_concurrency: int = Field(default=4, ge=1, le=64)
    # Vehicle-socket sessions one worker process keeps open at once (apart from the HTTP requests' slots).
    vmtr_max_concurrency: int = Field(default=4, ge=1)
    # One line fetch ends within this (and within 85% of TASK_TIMEOUT_SECONDS), whatever the upstreams do.
    upstream_fetch_budget_seconds: float = Field(default=40.0, gt=0)
    # A source's circuit opens after this many consecutive failures and lets one probe through after the cool-down.
    upstream_breaker_failure_threshold: int = Field(default=5, ge=1)
    upstream_breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    # A 429 whose Retry-After is at most this is waited for; a longer one pauses the source for that long.
    upstream_retry_after_max_seconds: float = Field(default=5.0, ge=0)
    # PRIM's Navitia plan (stop areas of a line, looked up once for the fleet; a bus line's routes).
    prim_daily_quota_navitia: int = Field(default=20_000, ge=1)
    # Stop ids looked up at run time (kept in the database for every worker) are looked up again once this old.
    stop_refs_refresh_hours: float = Field(default=168.0, gt=0)
    # A bus line's stops (from PRIM's Navitia, kept in the database) are asked for again once this old.
    bus_stops_refresh_hours: float = Field(default=24.0, gt=0)
    # Only for a LiveDataService used without the database (scripts): it keeps to 1/N of every daily quota. Workers
    # share one budget through the database, whatever the fleet size.
    prim_quota_processes: int = Field(default=1, ge=1)
    # PRIM's per-second limit until its answers say (`ratelimit-limit`): 5 is what PRIM gives a new key. 0: none.
    prim_rate_limit_per_second: int = Field(default=5, ge=0)
    # Share of the day's PRIM budget kept for the lines riders are looking at (fetched on demand).
    prim_demand_share: float = Field(default=0.3, ge=0.0, le=0.9)
    # How long one stop's PRIM answer serves every line at that stop.
    prim_stop_cache_seconds: float = Field(default=20.0, ge=0)
    # Least time between two traffic requests for one line; raised automatically to keep within the traffic quota.
    # Those per-line requests are only the fallback while PRIM's traffic feed (below) cannot be read.
    prim_traffic_refresh_seconds: float = Field(default=300.0, gt=0)
    # Every line's traffic from one request of PRIM's global feed (`disruptions_bulk`) per refresh, queued by the
    # scheduler; false: one general-message request per line, as before.
    prim_traffic_feed_enabled: bool = True
    # Least time between two reads of the feed (300 s: 288 requests a day); raised to keep within its allowance.
    prim_traffic_feed_seconds: float = Field(default=300.0, ge=30)
    # The feed's own daily PRIM allowance (1,000 for a key made since March 2024); an upper bound, as the others.
    prim_daily_quota_disruptions: int = Field(default=1_000, ge=1)
    # Share of the daytime refresh rate that lines nobody looks at get at night (Paris time, metro closed: 01:15 to
    # 05:30, 02:15 to 05:30 on Friday and Saturday nights); the day's budget goes to the service day. 1: no change.
    prim_night_weight: float = Field(default=0.25, gt=0.0, le=1.0)
    # How long the vehicle socket may take to send the first vehicle list of a direction.
    vmtr_listen_seconds: float = Field(default=6.0, gt=0)
    playwright_seed_timeout_seconds: float = Field(default=45.0, gt=0)
    # Stub upstream (`python -m backend.devtools.upstream`, demo mode and tests only): answer delay and faults
    # injected from the start, as `SOURCE[/ROUTE]:KIND[@LINE][*COUNT]` specs separated by spaces.
    stub_upstream_latency_ms: float = Field(default=0.0, ge=0)
    stub_upstream_faults: str = ""
    # Set by `serve.sh up --demo`: sources point at the stub upstream and the UI labels data as replayed.
    demo_mode: bool = False

    # --- Centralized logging ---------------------------------------------------------------------------------
    centralized_logging_enabled: bool = True
    centralized_log_level: str = "INFO"
    centralized_log_queue_size: int = Field(default=1000, ge=1)
    log_retention_days: int = Field(default=14, ge=1)

    @property
    def stale_after_seconds(self) -> float:
        """Age past which a board is stale: one scheduler interval plus a grace, unless configured."""
        return self.freshness_stale_after_seconds or 1.5 * self.scheduler_interval_seconds

    @field_validator("log_level", "centralized_log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("next_public_system_api_key")
    @classmethod
    def _no_public_key_alias(cls, value: str) -> str:
        if value.strip():
            raise ValueError(
                "NEXT_PUBLIC_SYSTEM_API_KEY is refused: a secret under Next.js's public prefix can be inlined into "
                "the dashboard's JavaScript. Rename it to SYSTEM_API_TOKEN (backend) and SYSTEM_API_KEY (dashboard)"
            )
        return value

    @field_validator("worker_scale_command")
    @classmethod
    def _scale_command_has_count(cls, value: str) -> str:
        if "{count}" not in value:
            raise ValueError("WORKER_SCALE_COMMAND must contain the {count} placeholder")
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use: `DATABASE_URL`, or the embedded SQLite file under `DATA_DIR`.

        Demo mode has a file of its own (`ratp-demo.sqlite3`), so replayed runs never mix their boards, task counts
        and workers with live runs'."""
        if self.database_url:
            return self.database_url
        file_name = "ratp-demo.sqlite3" if self.demo_mode else "ratp.sqlite3"
        return f"sqlite+aiosqlite:///{self.data_dir / file_name}"

    @property
    def uses_kafka(self) -> bool:
        return bool(self.kafka_bootstrap_servers.strip())

    @property
    def bus(self) -> BusKind:
        """The task bus: Kafka when KAFKA_BOOTSTRAP_SERVERS is set, else the database-backed queue."""
        return BusKind.KAFKA if self.uses_kafka else BusKind.DATABASE

    @property
    def effective_api_token(self) -> str:
        return self.system_api_token

    @property
    def api_token_is_placeholder(self) -> bool:
        return self.effective_api_token.strip().lower() in PLACEHOLDER_API_TOKENS

    @property
    def source_names(self) -> list[str]:
        return [name.strip() for name in self.source_order.split(",") if name.strip()]

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in self.api_cors_origins.split(",") if origin.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    # SETTINGS_ENV_FILES=false: the environment only (tests start services without a developer's .env leaking in).
    if os.environ.get("SETTINGS_ENV_FILES", "true").strip().lower() in ("0", "false", "no"):
        return Settings(_env_file=None)
    return Settings()


def host_name() -> str:
    return socket.gethostname()
