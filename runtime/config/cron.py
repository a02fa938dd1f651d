"""Schedule expressions in EventBridge's syntax, and when they fire next.

- `rate(Value Unit)`: Unit is minute|minutes|hour|hours|day|days; the singular
  with 1, the plural above it (`rate(1 hours)` and `rate(5 hour)` are refused).
- `cron(Minutes Hours Day-of-month Month Day-of-week Year)`: six fields,
  ranges 0-59, 0-23, 1-31, 1-12 or JAN-DEC, 1-7 or SUN-SAT (1 = Sunday, not
  Unix's 0), 1970-2199; wildcards `, - * /` everywhere, `? L W` in
  day-of-month (`L` last day, `LW` last weekday, `15W` the weekday nearest
  the 15th), `? L #` in day-of-week (`L` alone is Saturday, `6L` the month's
  last Friday, `3#2` its second Tuesday; a `#` stands alone in its field).
  Exactly one of day-of-month and day-of-week is `?`. A range may wrap
  (`FRI-MON`, `22-2`). Nothing fires more often than once a minute.
- `at(yyyy-mm-ddThh:mm:ss)`: once (EventBridge Scheduler only).

Cron fields are wall-clock fields: `next_cron` evaluates them in a time zone
(UTC for EventBridge rules, ScheduleExpressionTimezone for the Scheduler) with
the Scheduler's daylight-saving rules: a time the clock skips in spring does
not fire; a time the clock passes twice in autumn fires once, the first time.

Why our own parser: cronsim has no `W` other than `LW`, no year field, and
follows Debian cron's DST rule (run skipped jobs at once) where the Scheduler
skips them; croniter has neither `LW` nor `6L` and ignores weekends in `15W`;
aws-croniter (EventBridge's syntax) works in UTC only and failed on `LW` and
on a stepped year. The dialect is small enough to read in one file.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # 1-7, EventBridge's numbering
RATE_UNITS_S = {"minute": 60, "hour": 3600, "day": 86400}
YEARS = (1970, 2199)

_RATE = re.compile(r"rate\(\s*(?P<value>[^\s()]+)\s+(?P<unit>[A-Za-z]+)\s*\)")
_CRON = re.compile(r"cron\((?P<fields>[^()]*)\)")
_AT = re.compile(r"at\((?P<when>[^()]*)\)")
_AT_FORMAT = "%Y-%m-%dT%H:%M:%S"


class InvalidScheduleExpression(ValueError):
    """A schedule expression EventBridge would refuse; the message says what is wrong with it."""


@dataclass(frozen=True)
class RateExpression:
    text: str
    value: int
    unit: str  # minute, hour or day

    @property
    def period(self) -> timedelta:
        return timedelta(seconds=self.value * RATE_UNITS_S[self.unit])


@dataclass(frozen=True)
class AtExpression:
    text: str
    when: datetime  # naive: wall-clock time in the schedule's time zone


# -- day rules: which days of a given month a cron expression picks -------------------


def _weekday(year: int, month: int, day: int) -> int:
    """EventBridge's day-of-week number (1 = Sunday ... 7 = Saturday)."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int) -> int | None:
    """Quartz's `W`: the Monday-Friday nearest `day`, never leaving the month."""
    last = calendar.monthrange(year, month)[1]
    if day > last:
        return None
    weekday = _weekday(year, month, day)
    if weekday == 7:  # Saturday: the Friday before, or the Monday after when the 1st is a Saturday
        return day - 1 if day > 1 else day + 2
    if weekday == 1:  # Sunday: the Monday after, or the Friday before when the month ends on it
        return day + 1 if day < last else day - 2
    return day


@dataclass(frozen=True)
class DaysOfMonth:
    """Plain day numbers (from `*`, lists, ranges, steps)."""

    days: frozenset[int]

    def pick(self, year: int, month: int) -> set[int]:
        last = calendar.monthrange(year, month)[1]
        return {d for d in self.days if d <= last}


@dataclass(frozen=True)
class LastDayOfMonth:
    weekday_only: bool = False  # `LW`: the last Monday-Friday

    def pick(self, year: int, month: int) -> set[int]:
        day = calendar.monthrange(year, month)[1]
        while self.weekday_only and _weekday(year, month, day) in (1, 7):
            day -= 1
        return {day}


@dataclass(frozen=True)
class NearestWeekday:
    day: int  # `15W`

    def pick(self, year: int, month: int) -> set[int]:
        found = _nearest_weekday(year, month, self.day)
        return set() if found is None else {found}


@dataclass(frozen=True)
class Weekdays:
    weekdays: frozenset[int]  # 1-7

    def pick(self, year: int, month: int) -> set[int]:
        last = calendar.monthrange(year, month)[1]
        return {d for d in range(1, last + 1) if _weekday(year, month, d) in self.weekdays}


@dataclass(frozen=True)
class LastWeekdayOfMonth:
    weekday: int  # `6L`: the month's last Friday

    def pick(self, year: int, month: int) -> set[int]:
        day = calendar.monthrange(year, month)[1]
        while _weekday(year, month, day) != self.weekday:
            day -= 1
        return {day}


@dataclass(frozen=True)
class NthWeekdayOfMonth:
    weekday: int
    nth: int  # `3#2`: the second Tuesday (none in a month without a fifth one, for #5)

    def pick(self, year: int, month: int) -> set[int]:
        days = sorted(Weekdays(frozenset({self.weekday})).pick(year, month))
        return {days[self.nth - 1]} if self.nth <= len(days) else set()


DayRule = DaysOfMonth | LastDayOfMonth | NearestWeekday | Weekdays | LastWeekdayOfMonth | NthWeekdayOfMonth


@dataclass(frozen=True)
class CronExpression:
    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_rules: tuple[DayRule, ...]  # a day matches when any rule picks it
    months: tuple[int, ...]
    years: tuple[int, ...]

    def days(self, year: int, month: int) -> list[int]:
        picked: set[int] = set()
        for rule in self.day_rules:
            picked |= rule.pick(year, month)
        return sorted(picked)

    def wall_times(self, start: datetime) -> Iterator[datetime]:
        """Every matching wall-clock minute at or after `start` (naive), in order, through 2199."""
        first = (start.year, start.month, start.day, start.hour, start.minute)
        for year in self.years:
            if year < first[0]:
                continue
            for month in self.months:
                if (year, month) < first[:2]:
                    continue
                for day in self.days(year, month):
                    if (year, month, day) < first[:3]:
                        continue
                    for hour in self.hours:
                        if (year, month, day, hour) < first[:4]:
                            continue
                        for minute in self.minutes:
                            if (year, month, day, hour, minute) >= first:
                                yield datetime(year, month, day, hour, minute)


ScheduleExpression = RateExpression | CronExpression | AtExpression


# -- parsing ---------------------------------------------------------------------------


def parse_expression(text: str, *, allow_at: bool = False) -> ScheduleExpression:
    """Parse `rate(...)`, `cron(...)` or (with `allow_at`, the Scheduler's) `at(...)`; raises InvalidScheduleExpression."""
    if not isinstance(text, str):
        raise InvalidScheduleExpression(f"must be a string such as rate(5 minutes), got {type(text).__name__}")
    stripped = text.strip()
    if match := _RATE.fullmatch(stripped):
        return _rate(stripped, match["value"], match["unit"])
    if match := _CRON.fullmatch(stripped):
        return _cron(stripped, match["fields"])
    if match := _AT.fullmatch(stripped):
        if not allow_at:
            raise InvalidScheduleExpression("at(...) is for EventBridge Scheduler (ScheduleV2) only")
        try:
            when = datetime.strptime(match["when"].strip(), _AT_FORMAT)
        except ValueError:
            raise InvalidScheduleExpression(f"{text!r}: at() takes yyyy-mm-ddThh:mm:ss, e.g. at(2030-01-31T09:30:00)") from None
        return AtExpression(stripped, when)
    kinds = "rate(...), cron(...) or at(...)" if allow_at else "rate(...) or cron(...)"
    raise InvalidScheduleExpression(f"{text!r} is not a schedule expression: expected {kinds}")


def _rate(text: str, value: str, unit: str) -> RateExpression:
    if not value.isdigit() or int(value) < 1:
        raise InvalidScheduleExpression(f"{text!r}: the rate must be a whole number above 0, got {value!r}")
    number, word = int(value), unit.lower()
    singular = word.removesuffix("s")
    if singular not in RATE_UNITS_S:
        raise InvalidScheduleExpression(f"{text!r}: the unit must be minute(s), hour(s) or day(s), got {unit!r}")
    if number == 1 and word != singular:
        raise InvalidScheduleExpression(f"{text!r}: with 1 the unit is singular: rate(1 {singular})")
    if number > 1 and word == singular:
        raise InvalidScheduleExpression(f"{text!r}: above 1 the unit is plural: rate({number} {singular}s)")
    return RateExpression(text, number, singular)


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # accepted in place of low, low+1, ...

    def number(self, token: str, text: str) -> int:
        upper = token.upper()
        if upper in self.names:
            return self.low + self.names.index(upper)
        if not token.isdigit():
            raise InvalidScheduleExpression(f"{text!r}: {self.name} {token!r} is not a number{self._named()}")
        value = int(token)
        if not self.low <= value <= self.high:
            raise InvalidScheduleExpression(f"{text!r}: {self.name} {value} is outside {self.low}-{self.high}")
        return value

    def _named(self) -> str:
        return f" or one of {self.names[0]}-{self.names[-1]}" if self.names else ""

    def values(self, spec: str, text: str) -> frozenset[int]:
        """A comma list of `*`, `n`, `a-b` (wrapping when a > b), `x/step` (x being `*`, `n` or `a-b`)."""
        found: set[int] = set()
        for term in spec.split(","):
            base, _, step_text = term.partition("/")
            step = 1
            if step_text:
                if not step_text.isdigit() or int(step_text) < 1:
                    raise InvalidScheduleExpression(f"{text!r}: {self.name} step {step_text!r} must be a whole number above 0")
                step = int(step_text)
            if base == "*":
                first, last = self.low, self.high
            elif "-" in base:
                start, _, end = base.partition("-")
                first, last = self.number(start, text), self.number(end, text)
            else:
                first = self.number(base, text)
                last = self.high if step_text else first
            span = (last - first) % (self.high - self.low + 1)  # a range like FRI-MON wraps round
            found.update(self.low + (first - self.low + offset) % (self.high - self.low + 1) for offset in range(0, span + 1, step))
        return frozenset(found)


MINUTE = _Field("minute", 0, 59)
HOUR = _Field("hour", 0, 23)
DAY_OF_MONTH = _Field("day-of-month", 1, 31)
MONTH = _Field("month", 1, 12, MONTH_NAMES)
DAY_OF_WEEK = _Field("day-of-week", 1, 7, DAY_NAMES)
YEAR = _Field("year", *YEARS)


def _cron(text: str, inner: str) -> CronExpression:
    fields = inner.split()
    if len(fields) != 6:
        raise InvalidScheduleExpression(
            f"{text!r}: cron takes 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}")
    minutes, hours, dom, months, dow, years = fields
    if (dom == "?") == (dow == "?"):
        raise InvalidScheduleExpression(
            f"{text!r}: exactly one of day-of-month ({dom}) and day-of-week ({dow}) must be ?, e.g. cron(0 12 * * ? *)")
    day_rules = _day_of_month_rules(dom, text) if dow == "?" else _day_of_week_rules(dow, text)
    return CronExpression(
        text, tuple(sorted(MINUTE.values(minutes, text))), tuple(sorted(HOUR.values(hours, text))), day_rules,
        tuple(sorted(MONTH.values(months, text))), tuple(sorted(YEAR.values(years, text))),
    )


def _day_of_month_rules(spec: str, text: str) -> tuple[DayRule, ...]:
    if "#" in spec:
        raise InvalidScheduleExpression(f"{text!r}: # belongs in day-of-week, not day-of-month ({spec!r})")
    rules: list[DayRule] = []
    plain: list[str] = []
    for term in spec.split(","):
        upper = term.upper()
        if upper in ("L", "LW"):
            rules.append(LastDayOfMonth(weekday_only=upper == "LW"))
        elif upper.endswith("W") and term[:-1].isdigit():
            rules.append(NearestWeekday(DAY_OF_MONTH.number(term[:-1], text)))
        else:
            plain.append(term)
    if plain:
        rules.append(DaysOfMonth(DAY_OF_MONTH.values(",".join(plain), text)))
    return tuple(rules)


def _day_of_week_rules(spec: str, text: str) -> tuple[DayRule, ...]:
    if "#" in spec:
        if "," in spec:
            raise InvalidScheduleExpression(f"{text!r}: with # the day-of-week field holds one expression only ({spec!r})")
        weekday, _, nth = spec.partition("#")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise InvalidScheduleExpression(f"{text!r}: in {spec!r} the number after # must be 1-5")
        return (NthWeekdayOfMonth(DAY_OF_WEEK.number(weekday, text), int(nth)),)
    rules: list[DayRule] = []
    plain: list[str] = []
    for term in spec.split(","):
        upper = term.upper()
        if upper == "L":
            plain.append("7")  # the last day of the week: Saturday
        elif upper.endswith("L") and len(upper) > 1:
            rules.append(LastWeekdayOfMonth(DAY_OF_WEEK.number(term[:-1], text)))
        else:
            plain.append(term)
    if plain:
        rules.append(Weekdays(DAY_OF_WEEK.values(",".join(plain), text)))
    return tuple(rules)


# -- next fire times --------------------------------------------------------------------


def localize(wall: datetime, zone: tzinfo) -> datetime | None:
    """The instant a wall-clock time names in `zone`: None when the clock skips it, the first one when it repeats."""
    aware = wall.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        return None  # spring forward: this wall-clock time does not exist
    return aware


def next_cron(expression: CronExpression, after: datetime, zone: tzinfo = UTC) -> datetime | None:
    """The first instant strictly after `after` (aware) that `expression` names in `zone`; None if none through 2199."""
    wall = after.astimezone(zone).replace(tzinfo=None, fold=0)
    start = wall.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for candidate in expression.wall_times(start):
        instant = localize(candidate, zone)
        if instant is None or instant <= after:
            continue  # skipped by the clock, or the second pass of an autumn hour (it fired the first time)
        return instant.astimezone(UTC)
    return None


def next_rate(expression: RateExpression, anchor: datetime, after: datetime) -> datetime:
    """The first of anchor, anchor + period, anchor + 2 periods ... strictly after `after` (elapsed time, so DST plays no part)."""
    period = expression.period
    if after < anchor:
        return anchor
    steps = (after - anchor) // period + 1
    return anchor + steps * period


def next_at(expression: AtExpression, after: datetime, zone: tzinfo = UTC) -> datetime | None:
    """The at() instant if it is still to come (a skipped wall-clock time moves on to the first that exists)."""
    wall = expression.when
    instant = localize(wall, zone)
    while instant is None:  # at(02:30) on a spring-forward night: no such time; take the first after the gap
        wall += timedelta(minutes=1)
        instant = localize(wall, zone)
    instant = instant.astimezone(UTC)
    return instant if instant > after else None
