"""Schedule expressions in EventBridge's syntax: what parses, what is refused, and when each fires next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from lambdatop.runtime.config.cron import (
    AtExpression,
    CronExpression,
    InvalidScheduleExpression,
    RateExpression,
    next_at,
    next_cron,
    next_rate,
    parse_expression,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def fires(expression: str, after: datetime, count: int = 4, zone: ZoneInfo | timezone = UTC) -> list[str]:
    """The next `count` firings, as UTC 'Www YYYY-MM-DD HH:MM'."""
    parsed = parse_expression(expression)
    assert isinstance(parsed, CronExpression)
    out = []
    for _ in range(count):
        at = next_cron(parsed, after, zone)
        if at is None:
            break
        out.append(at.strftime("%a %Y-%m-%d %H:%M"))
        after = at
    return out


# -- rate --------------------------------------------------------------------------------


@pytest.mark.parametrize("text, seconds", [
    ("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600), ("rate(12 hours)", 43200),
    ("rate(1 day)", 86400), ("rate(7 days)", 604800),
])
def test_rate_units_singular_with_one_plural_above(text: str, seconds: int) -> None:
    parsed = parse_expression(text)
    assert isinstance(parsed, RateExpression)
    assert parsed.period == timedelta(seconds=seconds)


@pytest.mark.parametrize("text, says", [
    ("rate(1 minutes)", "with 1 the unit is singular: rate(1 minute)"),
    ("rate(1 hours)", "rate(1 hour)"),
    ("rate(5 minute)", "above 1 the unit is plural: rate(5 minutes)"),
    ("rate(5 hour)", "rate(5 hours)"),
    ("rate(0 minutes)", "whole number above 0"),
    ("rate(-1 minute)", "whole number above 0"),
    ("rate(1.5 hours)", "whole number above 0"),
    ("rate(30 seconds)", "minute(s), hour(s) or day(s)"),  # nothing more often than once a minute
    ("rate(2 weeks)", "minute(s), hour(s) or day(s)"),
    ("rate(5)", "not a schedule expression"),
    ("every 5 minutes", "not a schedule expression"),
])
def test_bad_rates_are_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(InvalidScheduleExpression, match=says.replace("(", r"\(").replace(")", r"\)")):
        parse_expression(text)


def test_rate_counts_from_its_anchor_and_skips_what_has_passed() -> None:
    every_five = parse_expression("rate(5 minutes)")
    assert isinstance(every_five, RateExpression)
    anchor = utc(2026, 12, 1, 10, 0, 7)
    assert next_rate(every_five, anchor, utc(2026, 12, 1, 9, 0)) == anchor
    assert next_rate(every_five, anchor, anchor) == utc(2026, 12, 1, 10, 5, 7)
    assert next_rate(every_five, anchor, utc(2026, 12, 1, 10, 17)) == utc(2026, 12, 1, 10, 20, 7)


# -- cron: fields and wildcards -----------------------------------------------------------

MONDAY_NOV_2 = utc(2026, 11, 2, 0, 0)  # 2026-11-01 is a Sunday


def test_every_field_with_star_and_question_mark() -> None:
    assert fires("cron(* * * * ? *)", utc(2026, 11, 2, 23, 58), 3) == [
        "Mon 2026-11-02 23:59", "Tue 2026-11-03 00:00", "Tue 2026-11-03 00:01"]
    assert fires("cron(0 12 * * ? *)", MONDAY_NOV_2, 2) == ["Mon 2026-11-02 12:00", "Tue 2026-11-03 12:00"]


def test_comma_dash_and_slash() -> None:
    assert fires("cron(5,10-12 1 * * ? *)", MONDAY_NOV_2) == [
        "Mon 2026-11-02 01:05", "Mon 2026-11-02 01:10", "Mon 2026-11-02 01:11", "Mon 2026-11-02 01:12"]
    assert fires("cron(0/15 * * * ? *)", MONDAY_NOV_2, 3) == ["Mon 2026-11-02 00:15", "Mon 2026-11-02 00:30", "Mon 2026-11-02 00:45"]
    assert fires("cron(1/10 * * * ? *)", MONDAY_NOV_2, 3) == ["Mon 2026-11-02 00:01", "Mon 2026-11-02 00:11", "Mon 2026-11-02 00:21"]
    assert fires("cron(*/20 9-17/4 * * ? *)", MONDAY_NOV_2, 4) == [
        "Mon 2026-11-02 09:00", "Mon 2026-11-02 09:20", "Mon 2026-11-02 09:40", "Mon 2026-11-02 13:00"]


def test_names_for_months_and_days_any_case() -> None:
    assert fires("cron(0 8 ? * MON-FRI *)", utc(2026, 11, 6, 9), 2) == ["Mon 2026-11-09 08:00", "Tue 2026-11-10 08:00"]
    assert fires("cron(0 0 1 jan,Jul ? *)", MONDAY_NOV_2, 2) == ["Fri 2027-01-01 00:00", "Thu 2027-07-01 00:00"]


def test_day_of_week_one_is_sunday() -> None:
    assert fires("cron(0 12 ? * 1 *)", MONDAY_NOV_2, 1) == ["Sun 2026-11-08 12:00"]
    assert fires("cron(0 12 ? * 7 *)", MONDAY_NOV_2, 1) == ["Sat 2026-11-07 12:00"]


def test_ranges_wrap_round() -> None:
    assert fires("cron(0 0 ? * FRI-MON *)", utc(2026, 11, 3), 4) == [
        "Fri 2026-11-06 00:00", "Sat 2026-11-07 00:00", "Sun 2026-11-08 00:00", "Mon 2026-11-09 00:00"]
    assert fires("cron(0 22-1 * * ? *)", utc(2026, 11, 2, 12), 4) == [
        "Mon 2026-11-02 22:00", "Mon 2026-11-02 23:00", "Tue 2026-11-03 00:00", "Tue 2026-11-03 01:00"]


def test_l_is_the_last_day_of_the_month_or_week() -> None:
    assert fires("cron(0 0 L * ? *)", MONDAY_NOV_2, 4) == [
        "Mon 2026-11-30 00:00", "Thu 2026-12-31 00:00", "Sun 2027-01-31 00:00", "Sun 2027-02-28 00:00"]
    assert fires("cron(0 0 ? * L *)", MONDAY_NOV_2, 2) == ["Sat 2026-11-07 00:00", "Sat 2026-11-14 00:00"]
    assert fires("cron(15 10 ? * 6L *)", MONDAY_NOV_2, 3) == [  # the last Friday of every month
        "Fri 2026-11-27 10:15", "Fri 2026-12-25 10:15", "Fri 2027-01-29 10:15"]


def test_w_is_the_nearest_weekday_inside_the_month() -> None:
    # 15 Nov 2026 is a Sunday: the Monday after. 1 Nov 2026 is a Sunday: Monday the 2nd.
    assert fires("cron(0 0 15W * ? *)", MONDAY_NOV_2, 2) == ["Mon 2026-11-16 00:00", "Tue 2026-12-15 00:00"]
    assert fires("cron(0 0 1W * ? *)", utc(2026, 10, 31), 1) == ["Mon 2026-11-02 00:00"]
    # 1 May 2027 is a Saturday: the nearest weekday would be 30 April, outside the month, so Monday the 3rd.
    assert fires("cron(0 0 1W 5 ? *)", utc(2027, 1, 1), 1) == ["Mon 2027-05-03 00:00"]
    # 31 Jan 2027 is a Sunday: the Friday before, since the month ends on it.
    assert fires("cron(0 0 31W 1 ? *)", utc(2026, 12, 1), 1) == ["Fri 2027-01-29 00:00"]
    assert fires("cron(0 0 LW * ? *)", utc(2026, 12, 1), 2) == ["Thu 2026-12-31 00:00", "Fri 2027-01-29 00:00"]


def test_hash_is_the_nth_weekday_of_the_month() -> None:
    assert fires("cron(0 0 ? * 3#2 *)", MONDAY_NOV_2, 2) == ["Tue 2026-11-10 00:00", "Tue 2026-12-08 00:00"]
    assert fires("cron(0 0 ? * MON#5 *)", MONDAY_NOV_2, 2) == ["Mon 2026-11-30 00:00", "Mon 2027-03-29 00:00"]


def test_the_year_field_limits_and_ends_a_schedule() -> None:
    assert fires("cron(0 0 1 1 ? 2030)", MONDAY_NOV_2) == ["Tue 2030-01-01 00:00"]
    assert fires("cron(0 0 1 1 ? 2027/2)", MONDAY_NOV_2, 3) == ["Fri 2027-01-01 00:00", "Mon 2029-01-01 00:00", "Wed 2031-01-01 00:00"]
    assert fires("cron(0 0 29 2 ? *)", MONDAY_NOV_2, 2) == ["Tue 2028-02-29 00:00", "Sun 2032-02-29 00:00"]
    assert fires("cron(0 0 30 2 ? *)", MONDAY_NOV_2) == []  # no 30 February, ever


@pytest.mark.parametrize("text, says", [
    ("cron(0 12 * * * *)", "exactly one of day-of-month (*) and day-of-week (*) must be ?"),
    ("cron(0 12 ? * ? *)", "exactly one of day-of-month (?) and day-of-week (?) must be ?"),
    ("cron(0 12 1 * MON *)", "exactly one of day-of-month (1) and day-of-week (MON) must be ?"),
    ("cron(0 12 * * ?)", "cron takes 6 fields"),  # Unix's 5 fields
    ("cron(0 0 12 * * ? *)", "cron takes 6 fields"),  # Quartz's seconds
    ("cron(60 * * * ? *)", "minute 60 is outside 0-59"),
    ("cron(0 24 * * ? *)", "hour 24 is outside 0-23"),
    ("cron(0 0 32 * ? *)", "day-of-month 32 is outside 1-31"),
    ("cron(0 0 * 13 ? *)", "month 13 is outside 1-12"),
    ("cron(0 0 ? * 0 *)", "day-of-week 0 is outside 1-7"),
    ("cron(0 0 * * ? 2200)", "year 2200 is outside 1970-2199"),
    ("cron(0 0 ? * 3#1,6#3 *)", "with # the day-of-week field holds one expression only"),
    ("cron(0 0 ? * 3#6 *)", "the number after # must be 1-5"),
    ("cron(0 0 1#2 * ? *)", "# belongs in day-of-week"),
    ("cron(L * * * ? *)", "minute 'L' is not a number"),
    ("cron(0 0 * FOO ? *)", "month 'FOO' is not a number or one of JAN-DEC"),
    ("cron(0/0 * * * ? *)", "step '0' must be a whole number above 0"),
    ("at(2030-01-01T00:00:00)", "at(...) is for EventBridge Scheduler"),
])
def test_bad_crons_are_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(InvalidScheduleExpression) as caught:
        parse_expression(text)
    assert says in str(caught.value)


# -- time zones and daylight saving (EventBridge Scheduler) -------------------------------------

NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")


def test_cron_in_a_time_zone_follows_its_wall_clock() -> None:
    # 09:00 in Paris is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
    assert fires("cron(0 9 ? * MON-FRI *)", utc(2026, 12, 7, 7), 1, PARIS) == ["Mon 2026-12-07 08:00"]
    assert fires("cron(0 9 ? * MON-FRI *)", utc(2027, 6, 7, 6), 1, PARIS) == ["Mon 2027-06-07 07:00"]


def test_a_time_skipped_in_spring_does_not_fire() -> None:
    # New York springs forward on 14 March 2027 at 02:00 → 03:00: there is no 02:30 that day.
    assert fires("cron(30 2 * * ? *)", utc(2027, 3, 13), 3, NEW_YORK) == [
        "Sat 2027-03-13 07:30",  # 02:30 EST
        "Mon 2027-03-15 06:30",  # 02:30 EDT; Sunday's is skipped
        "Tue 2027-03-16 06:30",
    ]


def test_a_time_repeated_in_autumn_fires_once() -> None:
    # New York falls back on 7 November 2027 at 02:00 EDT → 01:00 EST: 01:30 happens twice, fires the first time.
    assert fires("cron(30 1 * * ? *)", utc(2027, 11, 6, 12), 3, NEW_YORK) == [
        "Sun 2027-11-07 05:30",  # 01:30 EDT
        "Mon 2027-11-08 06:30",  # 01:30 EST the next day; not 06:30 UTC on the 7th
        "Tue 2027-11-09 06:30",
    ]
    # Every quarter hour through the repeated hour: each wall-clock time once.
    assert fires("cron(0/15 1 * * ? *)", utc(2027, 11, 7, 4, 50), 5, NEW_YORK) == [
        "Sun 2027-11-07 05:00", "Sun 2027-11-07 05:15", "Sun 2027-11-07 05:30", "Sun 2027-11-07 05:45",
        "Mon 2027-11-08 06:00",
    ]


def test_rate_is_elapsed_time_whatever_the_clock_does() -> None:
    daily = parse_expression("rate(1 day)")
    assert isinstance(daily, RateExpression)
    before_spring = utc(2027, 3, 13, 12)
    assert next_rate(daily, before_spring, before_spring) == before_spring + timedelta(hours=24)


def test_at_fires_once_in_its_time_zone() -> None:
    once = parse_expression("at(2027-07-01T09:30:00)", allow_at=True)
    assert isinstance(once, AtExpression)
    assert next_at(once, utc(2027, 1, 1), PARIS) == utc(2027, 7, 1, 7, 30)
    assert next_at(once, utc(2027, 7, 1, 7, 30), PARIS) is None
    with pytest.raises(InvalidScheduleExpression, match="yyyy-mm-ddThh:mm:ss"):
        parse_expression("at(2027-07-01 09:30)", allow_at=True)
