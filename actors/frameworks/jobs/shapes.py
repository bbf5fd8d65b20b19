"""Small conversions between the jobs state and what clients see or offers carry: the
schedule written back, durations as ISO 8601 text, and Chronos' placement constraints.

>>> duration_text(timedelta(minutes=2))
'PT120S'
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from actors.frameworks.jobs.schedule import Schedule
from messages import Offer


def schedule_text(schedule: Schedule, original: str) -> str:
    """The schedule written back as Chronos does: its start moved on to the next run,
    written on the zone's wall clock when the job has a scheduleTimeZone."""
    if schedule.cron is not None:
        return original
    if schedule.zone is None:
        return schedule.text
    count = "" if schedule.repeats is None else str(schedule.repeats)
    local = schedule.start.astimezone(schedule.zone)
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"
    return f"R{count}/{stamp}/{schedule.text.rsplit('/', 1)[-1]}"


def duration_text(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"PT{seconds}S"


def as_timedelta(period: Any, schedule: Schedule | None) -> timedelta:
    if isinstance(period, timedelta):
        return period
    base = schedule.start if schedule else datetime(2000, 1, 1, tzinfo=timezone.utc)
    return (base + period) - base


def fits(constraints: list[list[str]], offer: Offer) -> bool:
    for attribute, op, value in constraints:
        have = offer.hostname if attribute == "hostname" else offer.attributes.get(attribute)
        if op == "EQUALS" and have != value:
            return False
        if op == "LIKE" and (have is None or not re.fullmatch(value, have)):
            return False
        if op == "UNLIKE" and have is not None and re.fullmatch(value, have):
            return False
    return True
