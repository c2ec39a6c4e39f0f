"""When a cron fires: croniter-style schedules in an IANA timezone, bounded by an end time.

A schedule has 5 fields (minute hour day month weekday) or a 6th, seconds, at the end
(croniter's order: ``"* * * * * */10"`` is every ten seconds). Times are computed in the
cron's timezone (UTC when it has none), so "9 every morning" follows daylight saving time, and
are returned in UTC.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter  # type: ignore[import-untyped]

from duragraph_lab.domain.errors import InvalidRequest


def zone(timezone: str | None) -> dt.tzinfo:
    """The timezone named ``timezone`` (None: UTC); :class:`InvalidRequest` for an unknown name."""
    if timezone is None:
        return dt.UTC
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(f"timezone {timezone!r} is not an IANA timezone name") from None


def check(schedule: str, timezone: str | None) -> None:
    """Raise :class:`InvalidRequest` unless ``schedule`` and ``timezone`` can be used."""
    fields = schedule.split()
    if not 5 <= len(fields) <= 6 or not croniter.is_valid(schedule):
        raise InvalidRequest(
            f"schedule {schedule!r} is not a cron expression: 5 fields (minute hour day month weekday), "
            "or 6 with seconds last"
        )
    zone(timezone)


def next_fire(
    schedule: str, timezone: str | None, after: dt.datetime, end_time: dt.datetime | None = None
) -> dt.datetime | None:
    """The first time strictly after ``after`` the schedule fires, in UTC; None when that is
    after ``end_time`` (it never fires again)."""
    start = after.astimezone(zone(timezone))
    following: dt.datetime = croniter(schedule, start).get_next(dt.datetime)
    following = following.astimezone(dt.UTC)
    if end_time is not None and following > end_time:
        return None
    return following
