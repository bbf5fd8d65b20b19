"""Chronos schedules: ISO 8601 repeating intervals `R[n]/<start>/<period>`, and cron
expressions as a mesobus extension.

Times are computed on the wall clock of the schedule's zone (`scheduleTimeZone`, else the
start's own offset), as Chronos does: a daily job at 05:00 in Europe/Berlin stays at 05:00
across a DST change. Parsing is isodate's and croniter's; nothing here reads the clock:
`now` is always passed in, so the jobs framework stays deterministic and replayable.

>>> from datetime import datetime, timezone
>>> now = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)
>>> s = Schedule.parse("R3/2024-01-01T05:00:00Z/PT1H", now=now)
>>> s.due().isoformat(), s.repeats
('2024-01-01T05:00:00+00:00', 3)
>>> s.after_run().text
'R2/2024-01-01T06:00:00.000Z/PT1H'
>>> Schedule.parse("R/2024-03-30T05:00:00/P1D", "Europe/Berlin", now=now).after_run().due().isoformat()
'2024-03-31T05:00:00+02:00'
>>> Schedule.parse("*/5 * * * *", now=now).due().isoformat()
'2024-01-01T12:05:00+00:00'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import isodate
from croniter import croniter

_ISO = re.compile(r"^R(\d*)/([^/]*)/(P[^/]*)$")
MAX_TEXT = 256  # bytes: longer is no schedule, and is refused before any parsing
MAX_REPEATS = 10**9


class ScheduleError(ValueError):
    """A schedule, time zone or epsilon that cannot be used; the message says why."""


def zone_of(name: str) -> tzinfo | None:
    """The tz database zone `name` ("" -> None). Raises ScheduleError for an unknown one."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown scheduleTimeZone {name!r} (expected a tz database name like Europe/Berlin)") from None


def parse_period(text: str, what: str = "period") -> timedelta | isodate.Duration:
    """An ISO 8601 duration (`PT1H`, `P1M`, `P1DT12H`) that is longer than zero."""
    try:
        period = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError, TypeError):
        raise ScheduleError(f"bad {what} {text!r}: expected an ISO 8601 duration such as PT1H or P1D") from None
    base = datetime(2000, 1, 1)
    try:
        positive = base + period > base
    except (OverflowError, ValueError):  # P99999999999Y: past the calendar's end
        raise ScheduleError(f"bad {what} {text!r}: too long") from None
    if not positive:
        raise ScheduleError(f"bad {what} {text!r}: it must be longer than zero")
    return period


@dataclass(frozen=True)
class Schedule:
    """When a job runs next. `repeats` is how many runs are left (None: forever);
    `start` the next run (aware); `period` between runs (None for cron); `cron` the
    expression for a cron schedule."""

    repeats: int | None
    start: datetime
    period: timedelta | isodate.Duration | None
    zone: tzinfo | None = None
    cron: str | None = None

    @classmethod
    def parse(cls, text: str, time_zone: str = "", *, now: datetime) -> "Schedule":
        """Parse a schedule; an empty start means `now`. Raises ScheduleError."""
        if len(text.encode()) > MAX_TEXT:
            raise ScheduleError(f"schedule too long ({len(text.encode())} bytes; at most {MAX_TEXT})")
        zone = zone_of(time_zone)
        match = _ISO.match(text.strip())
        if match is None:
            return cls._parse_cron(text.strip(), zone, now)
        count, start_text, period_text = match.groups()
        repeats = int(count) if count else None
        if repeats is not None and repeats > MAX_REPEATS:
            raise ScheduleError(f"bad schedule {text!r}: at most {MAX_REPEATS} repetitions")
        period = parse_period(period_text)
        start = _parse_start(start_text, zone, now) if start_text else now
        return cls(repeats, start, period, zone)

    @classmethod
    def _parse_cron(cls, text: str, zone: tzinfo | None, now: datetime) -> "Schedule":
        if not croniter.is_valid(text):
            raise ScheduleError(
                f"bad schedule {text!r}: expected R[n]/[start]/period (e.g. R/2024-01-01T05:00:00Z/PT1H) "
                "or a cron expression (e.g. '*/5 * * * *')"
            )
        first = croniter(text, now.astimezone(zone or timezone.utc)).get_next(datetime)
        return cls(None, first, None, zone, cron=text)

    # --- what comes next -----------------------------------------------------------------

    def due(self) -> datetime | None:
        """The next run, or None when no run is left (R0, or Rn used up)."""
        return None if self.repeats == 0 else self.start

    def after_run(self) -> "Schedule":
        """The schedule once the due run has started (or been skipped)."""
        return self.advanced(1)

    def advanced(self, runs: int) -> "Schedule":
        """The schedule `runs` runs on (repetitions used up stop it at R0)."""
        if runs <= 0:
            return self
        if self.repeats is not None:
            runs = min(runs, self.repeats)
            if runs == 0:
                return self
        try:
            if self.cron is not None:
                it = croniter(self.cron, self.start)
                start = self.start
                for _ in range(runs):
                    start = it.get_next(datetime)
            else:
                start = _add_wall(self.start, self.period, runs, self.zone)
        except (OverflowError, ValueError):  # past the calendar's end (year 9999): that run never comes
            return replace(self, repeats=0)
        repeats = None if self.repeats is None else self.repeats - runs
        return replace(self, start=start, repeats=repeats)

    def skip_missed(self, now: datetime, epsilon: timedelta) -> tuple["Schedule", int]:
        """Drop the runs that are late by more than `epsilon` at `now`: returns the
        schedule whose due run is still on time (or in the future), and how many runs
        were skipped. A run exactly `epsilon` late still runs."""
        due = self.due()
        if due is None or now - due <= epsilon:
            return self, 0
        skipped = 0
        schedule = self
        # Jump close first (a PT1S schedule after a day away is 86,400 runs), then step.
        if schedule.cron is None and isinstance(schedule.period, timedelta):
            jump = int((now - epsilon - due) / schedule.period) - 1
            if jump > 0:
                before = schedule.repeats
                schedule = schedule.advanced(jump)
                skipped = jump if before is None else before - (schedule.repeats or 0)
        while (due := schedule.due()) is not None and now - due > epsilon:
            schedule = schedule.after_run()
            skipped += 1
        return schedule, skipped

    # --- as Chronos shows it -----------------------------------------------------------

    @property
    def text(self) -> str:
        """The schedule as Chronos writes it back after each run (start moved on)."""
        if self.cron is not None:
            return self.cron
        count = "" if self.repeats is None else str(self.repeats)
        start = self.start
        stamp = start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"
        return f"R{count}/{stamp}/{isodate.duration_isoformat(self.period)}"


def _parse_start(text: str, zone: tzinfo | None, now: datetime) -> datetime:
    try:
        start = isodate.parse_datetime(text)
    except (isodate.ISO8601Error, ValueError, TypeError):
        raise ScheduleError(f"bad start {text!r}: expected an ISO 8601 date and time such as 2024-01-01T05:00:00Z") from None
    if zone is not None:
        # As Chronos: a scheduleTimeZone keeps the written wall time and sets the zone.
        start = start.replace(tzinfo=zone)
    elif start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    try:  # an offset like +99:99 parses, then fails each later use of the time (the ticks too)
        start.astimezone(timezone.utc)
    except (OverflowError, ValueError) as err:
        raise ScheduleError(f"bad start {text!r}: {err}") from None
    return start


def _add_wall(start: datetime, period, runs: int, zone: tzinfo | None) -> datetime:
    """start + runs x period as Chronos (Joda) adds a period in a zone: years, months,
    weeks and days on the wall clock (a daily 05:00 stays 05:00 across DST), hours,
    minutes and seconds as elapsed time (an hourly job runs every 60 minutes)."""
    tz = zone or start.tzinfo
    if isinstance(period, timedelta):
        calendar, days, elapsed = None, period.days * runs, timedelta(seconds=period.seconds, microseconds=period.microseconds) * runs
    else:
        calendar, days = period, period.tdelta.days
        elapsed = timedelta(seconds=period.tdelta.seconds, microseconds=period.tdelta.microseconds) * runs
    local = start.astimezone(tz).replace(tzinfo=None)
    if calendar is None:
        local += timedelta(days=days)
    else:
        for _ in range(runs):  # calendar periods (months, years): few runs, exact maths
            local = local + isodate.Duration(years=calendar.years, months=calendar.months, days=days)
    # A wall time that does not exist (spring forward) or exists twice (fall back) is
    # read as the zone reads it; the round trip through UTC normalises it.
    moved = local.replace(tzinfo=tz).astimezone(timezone.utc) + elapsed
    return moved.astimezone(tz)
