"""Reading upstream times into timezone-aware UTC datetimes: ISO 8601 stamps and Paris wall-clock "HH:MM"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from backend.clock import utcnow

PARIS = ZoneInfo("Europe/Paris")
_CLOCK_TIME = re.compile(r"^(\d{1,2})[:hH](\d{2})$")


# The sources' name for the one clock.
utc_now = utcnow


def parse_utc(value: object) -> datetime | None:
    """An ISO 8601 stamp ("2023-05-31T07:27:22.568Z", with or without offset) as UTC; None when unreadable.

    A stamp without an offset is taken as UTC, which is what SIRI Lite and the vehicle socket send.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def paris_clock_time(text: str, now: datetime) -> datetime | None:
    """A Paris wall-clock "14:32" as the next such moment around `now` (UTC); None when `text` is not a time.

    Boards show the next departures, so a time more than 12 hours before `now` is taken as tomorrow's.
    """
    match = _CLOCK_TIME.match(text.strip())
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    local_now = now.astimezone(PARIS)
    candidate = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate < local_now - timedelta(hours=12):
        candidate = (local_now + timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    # Re-attach the zone so a date across a DST change gets that date's offset.
    candidate = candidate.replace(tzinfo=None).replace(tzinfo=PARIS)
    return candidate.astimezone(UTC)
