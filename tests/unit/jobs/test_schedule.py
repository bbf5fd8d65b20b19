from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from actors.frameworks.jobs.schedule import Schedule, ScheduleError, parse_period

UTC = timezone.utc
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def test_repetitions_count_down_to_none_left():
    s = Schedule.parse("R2/2024-06-01T12:00:00Z/PT1M", now=NOW)
    assert s.due() == NOW
    s = s.after_run()
    assert (s.repeats, s.due()) == (1, NOW + timedelta(minutes=1))
    s = s.after_run()
    assert s.repeats == 0 and s.due() is None
    assert s.after_run() == s  # used up stays used up


def test_r_runs_forever_and_r0_never_by_itself():
    forever = Schedule.parse("R/2024-06-01T12:00:00Z/PT1H", now=NOW).advanced(10_000)
    assert forever.repeats is None and forever.due() == NOW + timedelta(hours=10_000)
    assert Schedule.parse("R0/2024-06-01T12:00:00Z/PT1H", now=NOW).due() is None


def test_an_empty_start_means_now():
    assert Schedule.parse("R//PT10S", now=NOW).due() == NOW


def test_a_time_zone_keeps_the_written_wall_time():
    s = Schedule.parse("R/2024-06-01T05:00:00Z/P1D", "America/New_York", now=NOW)
    assert s.due() == datetime(2024, 6, 1, 5, 0, tzinfo=ZoneInfo("America/New_York"))
    assert s.due().astimezone(UTC).hour == 9


@pytest.mark.parametrize("zone, start, expect_hours", [
    ("Europe/Berlin", "2024-03-30T05:00:00", (5, 5, 5)),   # spring forward on the 31st
    ("Europe/Berlin", "2024-10-26T05:00:00", (5, 5, 5)),   # fall back on the 27th
    ("America/New_York", "2024-03-09T02:30:00", (2, 3, 2)),  # 02:30 does not exist on the 10th
])
def test_daily_runs_keep_their_wall_time_across_dst(zone, start, expect_hours):
    s = Schedule.parse(f"R/{start}/P1D", zone, now=NOW)
    hours = [s.advanced(k).due().hour for k in range(3)]
    assert tuple(hours) == expect_hours


def test_hourly_runs_across_dst_are_sixty_minutes_apart():
    s = Schedule.parse("R/2024-03-31T00:00:00/PT1H", "Europe/Berlin", now=NOW)
    runs = [s.advanced(k).due() for k in range(4)]
    assert [r.hour for r in runs] == [0, 1, 3, 4]  # 02:00 does not exist that night
    utc = [r.astimezone(UTC) for r in runs]
    assert {b - a for a, b in zip(utc, utc[1:])} == {timedelta(hours=1)}


def test_calendar_periods_use_calendar_maths():
    s = Schedule.parse("R/2024-01-31T00:00:00Z/P1M", now=NOW)
    assert [s.advanced(k).due().date().isoformat() for k in range(3)] == ["2024-01-31", "2024-02-29", "2024-03-29"]


def test_runs_late_by_more_than_epsilon_are_skipped_and_counted():
    s = Schedule.parse("R/2024-06-01T00:00:00Z/PT1H", now=NOW)
    kept, skipped = s.skip_missed(NOW, timedelta(minutes=30))
    assert skipped == 12 and kept.due() == NOW  # the 12:00 run is on time
    late = NOW + timedelta(minutes=10)
    kept, skipped = s.skip_missed(late, timedelta(minutes=30))
    assert skipped == 12 and kept.due() == NOW  # 10 minutes late: still within epsilon


def test_skipping_uses_up_repetitions():
    s = Schedule.parse("R5/2024-06-01T00:00:00Z/PT1H", now=NOW)
    kept, skipped = s.skip_missed(NOW, timedelta(minutes=1))
    assert skipped == 5 and kept.due() is None


def test_skipping_a_long_outage_of_a_fast_schedule_is_quick():
    s = Schedule.parse("R/2024-01-01T00:00:00Z/PT1S", now=NOW)
    kept, skipped = s.skip_missed(NOW, timedelta(seconds=1))
    assert NOW - kept.due() <= timedelta(seconds=1)
    assert skipped == int((NOW - datetime(2024, 1, 1, tzinfo=UTC)).total_seconds()) - 1


def test_cron_expressions_are_an_extension():
    s = Schedule.parse("0 5 * * *", "Europe/Berlin", now=NOW)
    assert s.due() == datetime(2024, 6, 2, 5, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert s.after_run().due() == datetime(2024, 6, 3, 5, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert s.text == "0 5 * * *"


def test_text_is_what_chronos_writes_back():
    s = Schedule.parse("R10/2024-06-01T05:00:00Z/PT1H30M", now=NOW).after_run()
    assert s.text == "R9/2024-06-01T06:30:00.000Z/PT1H30M"


@pytest.mark.parametrize("text, zone, fragment", [
    ("R/2024-13-01T00:00:00Z/PT1H", "", "bad start"),
    ("R/2024-01-01T00:00:00Z/P", "", "bad period"),
    ("R/2024-01-01T00:00:00Z/PT0S", "", "longer than zero"),
    ("every day", "", "bad schedule"),
    ("R/2024-01-01T00:00:00Z/PT1H", "Mars/Olympus", "unknown scheduleTimeZone"),
    ("R" + "9" * 300 + "//PT1H", "", "too long"),
    ("R99999999999//PT1H", "", "repetitions"),
])
def test_bad_schedules_say_what_is_wrong(text, zone, fragment):
    with pytest.raises(ScheduleError, match=fragment):
        Schedule.parse(text, zone, now=NOW)


def test_parse_period_refuses_negative():
    with pytest.raises(ScheduleError):
        parse_period("-PT1H")


@pytest.mark.parametrize("text", ["R/2030-01-01T00:00:00+99:99/PT1H", "R/0001-01-01T00:00:00+01:00/PT1H",
                                  "R/2030-01-01T00:00:00Z/P99999999999Y", "R/9999-12-31T23:00:00-01:00/PT1H"])
def test_starts_and_periods_out_of_the_calendar_are_refused(text):
    """Each parsed, then raised in every later use (the actor's ticks included)."""
    with pytest.raises(ScheduleError):
        Schedule.parse(text, now=NOW)


def test_a_run_past_the_calendars_end_never_comes():
    s = Schedule.parse("R/9999-12-31T23:00:00Z/PT1H", now=NOW)
    assert s.due() is not None and s.after_run().due() is None
    s = Schedule.parse("R/2030-01-01T00:00:00Z/P7900Y", now=NOW)
    assert s.after_run().due().year == 9930 and s.after_run().after_run().due() is None
