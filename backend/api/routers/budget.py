"""The PRIM budget for operators: what the key allows and has left per API, the key's state, and the refresh plan
that follows (`GET /api/system/budget`); an operator's retry after a rejected key (`POST /api/system/prim/key/retry`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status

from backend.api.budget_schemas import BudgetReport, KeyRetryResult
from backend.api.ratelimit import RateLimitedAdminCaller
from backend.api.routers.deps import AppDatabase, AppSettings
from backend.api.schemas import ErrorResponse
from backend.api.security import ReadCaller
from backend.budget import ledger
from backend.db.engine import DATABASE_ERRORS
from backend.db.models import UpstreamBudget
from backend.scheduler.planner import current_plan, uses_prim_budget

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "The database is down or not migrated"}
}
_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing X-API-Key header"},
    403: {"model": ErrorResponse, "description": "Wrong key (or the read-only key on a change)"},
}

router = APIRouter(prefix="/api/system", tags=["system"], responses=_AUTH_ERRORS)


def _finite(value: float) -> float | None:
    return None if math.isinf(value) or math.isnan(value) else round(value, 4)


@router.get("/budget", response_model=BudgetReport, responses=_UNAVAILABLE, summary="The PRIM budget and its plan")
async def budget(_caller: ReadCaller, database: AppDatabase, settings: AppSettings) -> BudgetReport:
    now = datetime.now(UTC)
    try:
        current = await current_plan(database, settings, now=now)
        plan, views = current.plan, current.viewed
        async with database.sessions() as session:
            rows = await ledger.budgets(session)
            key = await ledger.key_status(session)
    except DATABASE_ERRORS as exc:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"the database is unavailable or not migrated ({type(exc).__name__}); see GET /health",
        ) from exc
    budgeted = uses_prim_budget(settings)
    key_state: dict[str, Any]
    if not settings.prim_api_key.strip():
        key_state = {"state": "not_configured", "message": "PRIM_API_KEY is empty", "key_id": None, "since": None}
    elif key is not None and key.state == "rejected" and key.key_id == ledger.key_digest(settings.prim_api_key):
        key_state = {"state": "rejected", "message": key.message, "key_id": key.key_id, "since": key.since}
    else:
        key_state = {"state": "ok", "message": None, "key_id": ledger.key_digest(settings.prim_api_key), "since": None}
    apis = []
    for row in rows:
        planned = {"planned_per_day": current.requests_per_day.get(row.api) if budgeted else None}
        if row.reset_at <= now:  # the reset passed and no request has rolled the row over yet
            apis.append(
                {
                    **_row(row),
                    **planned,
                    "used_today": 0,
                    "remaining": row.daily_limit,
                    "refused_today": 0,
                    "held_back_today": 0,
                }
            )
        else:
            apis.append({**_row(row), **planned})
    return BudgetReport.model_validate(
        {
            "budgeted": budgeted,
            "key": key_state,
            "apis": apis,
            "rate_per_second": _finite(plan.rate_per_second) if budgeted else None,
            "demand_share": settings.prim_demand_share,
            "demand_rate_per_second": _finite(plan.demand_rate) if budgeted else None,
            "periodic_interval_seconds": _finite(plan.periodic_interval_seconds),
            "periodic_wanted_seconds": settings.scheduler_interval_seconds,
            "periodic_covered": plan.periodic_covered,
            "demand_interval_seconds": _finite(plan.demand_interval_seconds),
            "demand_wanted_seconds": settings.demand_refresh_seconds,
            "demand_covered": plan.demand_covered,
            "traffic_feed_interval_seconds": _finite(current.traffic_feed_interval_seconds)
            if current.traffic_feed_interval_seconds is not None
            else None,
            "night_weight": settings.prim_night_weight,
            "viewed_lines": views,
            "lines": [
                {
                    "line_id": line.line_id,
                    "cost": line.cost,
                    "interval_seconds": _finite(line.interval_seconds),
                    "requests_per_day": 0.0 if math.isinf(line.interval_seconds) else round(line.requests_per_day, 1),
                    "viewed": line.viewed,
                }
                for line in plan.lines
            ],
        }
    )


def _row(row: UpstreamBudget) -> dict[str, Any]:
    return {
        "api": row.api,
        "daily_limit": row.daily_limit,
        "daily_limit_source": row.daily_limit_source,
        "per_second_limit": row.per_second_limit,
        "used_today": row.used_today,
        "remaining": row.remaining,
        "refused_today": row.refused_today,
        "held_back_today": row.held_back_today,
        "reset_at": row.reset_at,
        "observed_at": row.observed_at,
    }


@router.post(
    "/prim/key/retry",
    response_model=KeyRetryResult,
    responses={**_UNAVAILABLE, 429: {"model": ErrorResponse, "description": "Too many changes a minute"}},
    summary="Ask PRIM again after it rejected the API key",
)
async def retry_key(caller: RateLimitedAdminCaller, database: AppDatabase) -> KeyRetryResult:
    try:
        async with database.write_sessions() as session, session.begin():
            cleared = await ledger.retry_key(session)
    except DATABASE_ERRORS as exc:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"the database is unavailable ({type(exc).__name__}); see GET /health",
        ) from exc
    ledger.logger.info(
        "PRIM key retry by %s: %s", caller.label, "rejection cleared" if cleared else "no rejection recorded"
    )
    return KeyRetryResult(cleared=cleared)
