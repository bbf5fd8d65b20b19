"""Marathon's timestamps: ISO 8601 in UTC with milliseconds and a `Z`.

>>> iso(0.5)
'1970-01-01T00:00:00.500Z'
>>> parse_iso("1970-01-01T00:00:00.500Z")
0.5
"""

from __future__ import annotations

from datetime import datetime, timezone


def iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float:
    """Seconds since 1970 of an ISO 8601 time (ValueError if it is not one)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
