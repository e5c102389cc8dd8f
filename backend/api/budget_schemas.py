"""Response models of the PRIM budget routes (`/api/system/budget`, `/api/system/prim/key/retry`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

KeyState = Literal["ok", "rejected", "not_configured"]


class BudgetModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PrimKeyStatus(BudgetModel):
    state: KeyState = Field(description="`rejected`: PRIM answered 401; PRIM is not asked until the key changes")
    message: str | None = Field(description='e.g. "PRIM rejected the API key: Unauthorized"')
    key_id: str | None = Field(description="A digest naming the key (never the key)")
    since: datetime | None


class PrimApiBudget(BudgetModel):
    api: str = Field(
        description="`departures` (stop-monitoring), `disruptions` (the traffic feed, `disruptions_bulk`), `traffic` "
        "(general-message, per line: the fallback while the feed cannot be read), `navitia`"
    )
    daily_limit: int = Field(description="Requests a day the key allows (PRIM's header, else the configured quota)")
    daily_limit_source: Literal["configured", "prim"]
    per_second_limit: int | None = Field(description="PRIM's per-second limit (null until PRIM says)")
    used_today: int = Field(description="Requests the fleet took from the budget since the reset")
    remaining: int = Field(description="Requests left until the reset (the lower of ours and PRIM's count)")
    refused_today: int = Field(description="Answered 429 by PRIM since the reset (should stay 0)")
    held_back_today: int = Field(description="Not sent since the reset because nothing was left")
    reset_at: datetime = Field(description="When PRIM starts counting again (about 00:00 UTC)")
    observed_at: datetime | None = Field(description="The latest PRIM answer whose rate-limit headers were read")
    planned_per_day: float | None = Field(
        default=None,
        description="Requests a day the current plan makes on this API (null: not planned, e.g. the per-line "
        "traffic fallback, which runs only while the feed fails)",
    )


class LineRefresh(BudgetModel):
    line_id: str
    cost: int = Field(description="Stop-monitoring requests one fetch of the line makes")
    interval_seconds: float | None = Field(description="Planned time between two fetches (null: none planned)")
    requests_per_day: float = Field(description="What this interval costs a day")
    viewed: bool = Field(description="Someone is looking at it: fetched on demand, at a higher priority")


class BudgetReport(BudgetModel):
    budgeted: bool = Field(description="False when PRIM is not used (no key, or not in SOURCE_ORDER)")
    key: PrimKeyStatus
    apis: list[PrimApiBudget]
    rate_per_second: float | None = Field(description="The departures budget's even pace until the reset")
    demand_share: float = Field(description="PRIM_DEMAND_SHARE: the share kept for viewed lines")
    demand_rate_per_second: float | None
    periodic_interval_seconds: float | None = Field(description="Planned interval of the periodic (rail) cycle")
    periodic_wanted_seconds: float = Field(description="SCHEDULER_INTERVAL_SECONDS")
    periodic_covered: bool = Field(description="False: the budget cannot refresh the cycle as often as wanted")
    demand_interval_seconds: float | None = Field(description="Planned interval of a viewed line")
    demand_wanted_seconds: float = Field(description="DEMAND_REFRESH_SECONDS")
    demand_covered: bool
    traffic_feed_interval_seconds: float | None = Field(
        default=None,
        description="Planned time between two reads of the traffic feed (null: not read, or its allowance is spent)",
    )
    night_weight: float = Field(
        description="PRIM_NIGHT_WEIGHT: the night's share of the daytime pace of unviewed lines"
    )
    viewed_lines: list[str]
    lines: list[LineRefresh]


class KeyRetryResult(BudgetModel):
    cleared: bool = Field(description="A rejection was cleared (false: none was recorded)")
