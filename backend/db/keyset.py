"""The one codec of the paged lists' `next_cursor` (task runs, logs): a position in a newest-first (time, id) order.

Opaque to clients: URL-safe base64 of `<ISO time>|<row id>|<checksum>`, without padding. The checksum is not a
secret: it only tells a cursor this API issued from an edited or truncated one, which is refused with a 422.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime

_KEY = b"ratp-system-logs-cursor"
INVALID_CURSOR = "invalid cursor: pass back `next_cursor` from a previous page unchanged"


class InvalidCursorError(ValueError):
    """A cursor this API did not issue (truncated, edited, or carrying an impossible position)."""


def checksum(payload: str) -> str:
    return hashlib.blake2b(payload.encode(), key=_KEY, digest_size=8).hexdigest()


def encode_cursor(at: datetime, row_id: str | int) -> str:
    payload = f"{at.astimezone(UTC).isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(f"{payload}|{checksum(payload)}".encode()).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[datetime, str]:
    """The (time, row id) a cursor carries; InvalidCursorError for anything this API did not issue."""
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True).decode()
        payload, mark = raw.rsplit("|", 1)
        at_text, row_id = payload.split("|", 1)
        if not hmac.compare_digest(mark, checksum(payload)):
            raise InvalidCursorError("checksum mismatch")
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None:
            raise InvalidCursorError("no time zone")
        # In UTC here: an offset that pushes the date out of range (year 1 at +23:59) fails now, not in the query.
        at = at.astimezone(UTC)
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError) as exc:
        raise InvalidCursorError(INVALID_CURSOR) from exc
    if not row_id or "\x00" in row_id:
        raise InvalidCursorError(INVALID_CURSOR)
    return at, row_id
