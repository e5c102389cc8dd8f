"""The one clock: `utcnow()`, timezone-aware UTC, which every process reads the time from."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
