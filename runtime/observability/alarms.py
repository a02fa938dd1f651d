"""CloudWatch alarms over lambdatop's metrics.

An alarm watches one metric of one function (or of the fleet) with a
statistic (Sum, Average, Maximum, Minimum, SampleCount, pNN) over a period; it
takes the last `evaluation_periods` complete periods and goes to ALARM when at
least `datapoints_to_alarm` of them breach the threshold ("M out of N"), to OK
when fewer do, and to INSUFFICIENT_DATA when there is nothing to judge.
Periods are aligned to multiples of the period since the epoch, as CloudWatch
aligns them, and each is judged once, just after it ends: every one of them,
in order, even when the evaluation runs late (a busy loop's tick may come 1.1 s
after the last one, and a 1-second period must not go unjudged).

    INSUFFICIENT_DATA ──► OK ◄──► ALARM
            ▲              │        │
            └──────────────┴────────┘

Without configuration every function gets the alarms AWS recommends for every
function: Errors > 0 and Throttles > 0 (Sum over 1 minute). Lambda publishes
no datapoint for an idle minute, so those treat missing data as not breaching.
`lambdatop.yaml` can add alarms or replace the defaults:

    alarms:
      defaults: true            # keep Errors > 0 / Throttles > 0 per function
      rules:
        - name: hello-p99
          function: hello       # or "*" (the default) for the fleet
          metric: Duration      # or a custom EMF metric "Namespace/Name"
          statistic: p99
          period: 60
          evaluation_periods: 3
          datapoints_to_alarm: 2
          threshold: 500
          comparison: ">"       # or GreaterThanThreshold, >=, <, <= ...
          treat_missing_data: missing   # missing | notBreaching | breaching | ignore
"""

from __future__ import annotations

import collections
import enum
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.observability.figures import AlarmsSnapshot, AlarmTransitionView, AlarmView
from lambdatop.runtime.observability.percentiles import UnknownStatistic, percentile_of
from lambdatop.runtime.observability.metrics import FLEET, STANDARD_METRICS, MetricsRegistry, version_series

EVALUATION_LAG_S = 0.5  # let the last second's records reach the metrics before judging a period
CATCH_UP_PERIODS = 10  # after a stall (a suspended laptop), the periods judged late; older ones are not judged
HISTORY_LIMIT = 200


class AlarmState(enum.StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class Comparison(enum.StrEnum):
    GT = "GreaterThanThreshold"
    GE = "GreaterThanOrEqualToThreshold"
    LT = "LessThanThreshold"
    LE = "LessThanOrEqualToThreshold"

    @property
    def symbol(self) -> str:
        return {"GreaterThanThreshold": ">", "GreaterThanOrEqualToThreshold": ">=", "LessThanThreshold": "<",
                "LessThanOrEqualToThreshold": "<="}[self.value]

    @property
    def words(self) -> str:
        return {"GreaterThanThreshold": "greater than", "GreaterThanOrEqualToThreshold": "greater than or equal to",
                "LessThanThreshold": "less than", "LessThanOrEqualToThreshold": "less than or equal to"}[self.value]

    def breaches(self, value: float, threshold: float) -> bool:
        if self is Comparison.GT:
            return value > threshold
        if self is Comparison.GE:
            return value >= threshold
        if self is Comparison.LT:
            return value < threshold
        return value <= threshold

    @classmethod
    def parse(cls, text: str) -> Comparison:
        aliases = {">": cls.GT, ">=": cls.GE, "<": cls.LT, "<=": cls.LE}
        if text in aliases:
            return aliases[text]
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"unknown comparison {text!r}: use >, >=, <, <= or {', '.join(c.value for c in cls)}") from None


class MissingData(enum.StrEnum):
    MISSING = "missing"
    NOT_BREACHING = "notBreaching"
    BREACHING = "breaching"
    IGNORE = "ignore"


@dataclass(frozen=True)
class AlarmDefinition:
    name: str
    metric: str
    function: str = FLEET  # a function name, or FLEET ("*") for fleet-wide
    statistic: str = "Sum"
    period: int = 60
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    threshold: float = 0.0
    comparison: Comparison = Comparison.GT
    treat_missing_data: MissingData = MissingData.MISSING
    description: str = ""
    version: str | None = None  # a published version's own series (CloudWatch's ExecutedVersion), not the function's

    def __post_init__(self) -> None:
        percentile_of(self.statistic)  # raises UnknownStatistic
        if self.period < 1:
            raise ValueError("period must be at least 1 second")
        if self.evaluation_periods < 1:
            raise ValueError("evaluation_periods must be at least 1")
        if not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise ValueError("datapoints_to_alarm must be between 1 and evaluation_periods")

    @property
    def scope(self) -> str:
        return "fleet" if self.function == FLEET else self.function

    @property
    def series(self) -> str:
        """The name of the metric series it reads (metrics.py)."""
        return version_series(self.function, self.version) if self.version else self.function

    def describe(self) -> str:
        """`Errors Sum > 0 for 1 of 1 × 60 s` (`… of version 2` for a version's own)."""
        return (f"{self.metric} {self.statistic} {self.comparison.symbol} {_num(self.threshold)} "
                f"for {self.datapoints_to_alarm} of {self.evaluation_periods} × {self.period} s"
                + (f" of version {self.version}" if self.version else ""))


@dataclass(slots=True)
class Transition:
    at: float
    old: AlarmState
    new: AlarmState
    reason: str

    def view(self, alarm: str) -> AlarmTransitionView:
        return AlarmTransitionView(alarm, self.at, str(self.old), str(self.new), self.reason)


@dataclass
class Alarm:
    definition: AlarmDefinition
    state: AlarmState = AlarmState.INSUFFICIENT_DATA
    reason: str = "Unchecked: Initial alarm creation"
    since: float = field(default_factory=time.time)
    history: collections.deque[Transition] = field(default_factory=lambda: collections.deque(maxlen=HISTORY_LIMIT))
    last_period_end: int | None = None  # the end of the newest period judged
    last_datapoints: list[float | None] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.definition.name

    def view(self) -> AlarmView:
        d = self.definition
        return AlarmView(name=d.name, function=d.scope, metric=d.metric, statistic=d.statistic, state=str(self.state),
                         reason=self.reason, since=self.since, description=d.describe(),
                         datapoints=tuple(self.last_datapoints),
                         history=tuple(t.view(d.name) for t in reversed(self.history)))


def _newest_period_end(now: float, period: int) -> int:
    """The end of the newest period complete at `now` (and given EVALUATION_LAG_S for its records to arrive)."""
    return math.floor((now - EVALUATION_LAG_S) / period) * period


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _stamp(at: float) -> str:
    return time.strftime("%d/%m/%y %H:%M:%S", time.gmtime(at))


def judge(
    definition: AlarmDefinition, datapoints: list[float | None], period_starts: list[int], current: AlarmState
) -> tuple[AlarmState, str]:
    """The state `datapoints` (oldest first, None = no data) put the alarm in, and CloudWatch's reason text."""
    d = definition
    missing = d.treat_missing_data
    present = [(v, t) for v, t in zip(datapoints, period_starts, strict=True) if v is not None]
    if not present:
        if missing is MissingData.MISSING:
            return AlarmState.INSUFFICIENT_DATA, (
                f"Insufficient Data: {len(datapoints)} datapoint{'s were' if len(datapoints) != 1 else ' was'} unknown.")
        if missing is MissingData.IGNORE:
            return current, ""
    breaching = sum(1 for v, _ in present if d.comparison.breaches(v, d.threshold))
    if missing is MissingData.BREACHING:
        breaching += len(datapoints) - len(present)
    state = AlarmState.ALARM if breaching >= d.datapoints_to_alarm else AlarmState.OK
    if not present:
        treated = "Breaching" if missing is MissingData.BREACHING else "NonBreaching"
        n = len(datapoints)
        return state, (f"Threshold Crossed: no datapoints were received for {n} period{'s' if n != 1 else ''} and "
                       f"{n} missing datapoint{'s were' if n != 1 else ' was'} treated as [{treated}].")
    shown = ", ".join(f"{_num(round(v, 3))} ({_stamp(t)})" for v, t in reversed(present)) or "no datapoints"
    verb = "was" if (breaching if state is AlarmState.ALARM else len(present) - breaching) == 1 else "were"
    if state is AlarmState.ALARM:
        reason = (f"Threshold Crossed: {breaching} out of the last {len(datapoints)} datapoints [{shown}] {verb} "
                  f"{d.comparison.words} the threshold ({_num(d.threshold)}) (minimum {d.datapoints_to_alarm} "
                  f"datapoint{'s' if d.datapoints_to_alarm != 1 else ''} for OK -> ALARM transition).")
    else:
        reason = (f"Threshold Crossed: {len(datapoints) - breaching} out of the last {len(datapoints)} datapoints "
                  f"[{shown}] {'was' if len(datapoints) - breaching == 1 else 'were'} not {d.comparison.words} the "
                  f"threshold ({_num(d.threshold)}) (minimum 1 datapoint for ALARM -> OK transition).")
    return state, reason


class AlarmSet:
    """The fleet's alarms, evaluated against a metrics registry."""

    def __init__(self, definitions: Iterable[AlarmDefinition], now: float | None = None) -> None:
        self.alarms: dict[str, Alarm] = {}
        for definition in definitions:
            self.add(definition, now)
        self.transitions: collections.deque[tuple[str, Transition]] = collections.deque(maxlen=HISTORY_LIMIT * 5)

    def add(self, definition: AlarmDefinition, now: float | None = None) -> Alarm:
        """A new alarm; created at `now`, its first evaluation judges every period from the one complete then
        (without `now`, the first evaluation judges its newest period alone)."""
        alarm = self.alarms[definition.name] = Alarm(definition)
        if now is not None:
            alarm.last_period_end = _newest_period_end(now, definition.period) - definition.period
        return alarm

    def remove_function(self, function: str) -> None:
        for name in [n for n, a in self.alarms.items() if a.definition.function == function]:
            del self.alarms[name]

    def evaluate(self, metrics: MetricsRegistry, now: float | None = None) -> list[tuple[Alarm, Transition]]:
        """Judge, oldest first, every complete period of every alarm not judged yet; returns the transitions."""
        now = time.time() if now is None else now
        changes: list[tuple[Alarm, Transition]] = []
        for alarm in self.alarms.values():
            period = alarm.definition.period
            newest = _newest_period_end(now, period)
            last = alarm.last_period_end
            if last is not None and newest <= last:
                continue
            first = newest if last is None else max(last + period, newest - (CATCH_UP_PERIODS - 1) * period)
            for period_end in range(first, newest + 1, period):
                # A period judged late is stamped when it would have been judged on time.
                transition = self._judge(alarm, metrics, period_end, min(now, period_end + EVALUATION_LAG_S))
                if transition is not None:
                    changes.append((alarm, transition))
        return changes

    def _judge(self, alarm: Alarm, metrics: MetricsRegistry, period_end: int, at: float) -> Transition | None:
        d = alarm.definition
        alarm.last_period_end = period_end
        series = metrics.series.get(d.series)
        starts = [period_end - (k * d.period) for k in range(d.evaluation_periods, 0, -1)]
        datapoints = [series.statistic(d.metric, d.statistic, s, s + d.period) if series else None for s in starts]
        alarm.last_datapoints = datapoints
        state, reason = judge(d, datapoints, starts, alarm.state)
        if state is alarm.state:
            if reason:
                alarm.reason = reason
            return None
        transition = Transition(at, alarm.state, state, reason)
        alarm.state, alarm.reason, alarm.since = state, reason, at
        alarm.history.append(transition)
        self.transitions.append((alarm.name, transition))
        return transition

    def fired_since(self, name: str, since: float) -> bool:
        """Whether alarm `name` is in ALARM or went into it at `since` or later (a period judged late may have
        gone ALARM and back to OK in one evaluation: whoever watches the alarm must still learn of it)."""
        alarm = self.alarms.get(name)
        if alarm is None:
            return False
        return alarm.state is AlarmState.ALARM or any(
            t.new is AlarmState.ALARM and t.at >= since for t in reversed(alarm.history))

    @property
    def open(self) -> int:
        return sum(1 for a in self.alarms.values() if a.state is AlarmState.ALARM)

    def states_by_function(self) -> dict[str, str]:
        """The worst state of each function's alarms (ALARM > INSUFFICIENT_DATA > OK); "*" for fleet alarms."""
        rank = {AlarmState.OK: 0, AlarmState.INSUFFICIENT_DATA: 1, AlarmState.ALARM: 2}
        states: dict[str, AlarmState] = {}
        for alarm in self.alarms.values():
            key = alarm.definition.function
            if key not in states or rank[alarm.state] > rank[states[key]]:
                states[key] = alarm.state
        return {k: str(v) for k, v in states.items()}

    def snapshot(self) -> AlarmsSnapshot:
        return AlarmsSnapshot(
            open=self.open,
            states=self.states_by_function(),
            alarms=tuple(alarm.view() for alarm in self.alarms.values()),
            transitions=tuple(t.view(name) for name, t in reversed(self.transitions)),
        )


# -- configuration -------------------------------------------------------------------------------

_RULE_KEYS = {"name", "function", "metric", "statistic", "period", "evaluation_periods", "datapoints_to_alarm",
              "threshold", "comparison", "treat_missing_data", "description", "namespace", "version"}


def default_definitions(functions: Iterable[str]) -> list[AlarmDefinition]:
    """Errors > 0 and Throttles > 0, Sum over one minute, for every function."""
    out = []
    for function in functions:
        for metric in ("Errors", "Throttles"):
            out.append(AlarmDefinition(
                name=f"{function}-{metric}", metric=metric, function=function, statistic="Sum", period=60,
                threshold=0, comparison=Comparison.GT, treat_missing_data=MissingData.NOT_BREACHING,
                description=f"AWS's recommended {metric} alarm",
            ))
    return out


def parse_rules(section: Any, functions: Iterable[str], where: str = "lambdatop.yaml") -> list[AlarmDefinition]:
    """The alarms for a fleet from its `alarms:` section (a mapping, a list of rules, or absent)."""
    names = list(functions)
    if section is None:
        return default_definitions(names)
    if isinstance(section, list):
        section = {"rules": section}
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: alarms: must be a mapping with 'defaults' and 'rules' (or a list of rules)")
    unknown = set(section) - {"defaults", "rules"}
    if unknown:
        raise ConfigError(f"{where}: alarms: unknown key(s) {', '.join(sorted(map(str, unknown)))} (expected defaults, rules)")
    defaults = section.get("defaults", True)
    if not isinstance(defaults, bool):
        raise ConfigError(f"{where}: alarms.defaults must be true or false")
    rules = section.get("rules") or []
    if not isinstance(rules, list):
        raise ConfigError(f"{where}: alarms.rules must be a list of alarms")
    out = default_definitions(names) if defaults else []
    taken = {d.name for d in out}
    for number, rule in enumerate(rules, 1):
        definition = _rule(rule, number, names, where)
        if definition.name in taken:
            out = [d for d in out if d.name != definition.name]  # a rule may redefine a default by name
        taken.add(definition.name)
        out.append(definition)
    return out


def _rule(rule: Any, number: int, functions: list[str], where: str) -> AlarmDefinition:
    label = f"{where}: alarms.rules[{number}]"
    if not isinstance(rule, Mapping):
        raise ConfigError(f"{label} must be a mapping")
    unknown = set(rule) - _RULE_KEYS
    if unknown:
        raise ConfigError(f"{label}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    metric = rule.get("metric")
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f"{label}: 'metric' is required ({', '.join(STANDARD_METRICS)} or Namespace/Name)")
    if "namespace" in rule:
        metric = f"{rule['namespace']}/{metric}"
    if "/" not in metric and metric not in STANDARD_METRICS:
        raise ConfigError(f"{label}: unknown metric {metric!r} (expected one of {', '.join(STANDARD_METRICS)}, or Namespace/Name for a custom metric)")
    function = str(rule.get("function", FLEET))
    if function in ("fleet", ""):
        function = FLEET
    if function != FLEET and function not in functions:
        raise ConfigError(f"{label}: no function named {function!r}")
    version = rule.get("version")
    if version is not None and (function == FLEET or not str(version).isdigit()):
        raise ConfigError(f"{label}: version must be a published version's number, of the rule's function "
                          f"(CloudWatch's ExecutedVersion), got {version!r}")
    try:
        return AlarmDefinition(
            name=str(rule.get("name") or f"{'fleet' if function == FLEET else function}-{metric.replace('/', '-')}-{number}"),
            metric=metric,
            function=function,
            statistic=str(rule.get("statistic", "Sum")),
            period=_int(rule, "period", 60, label),
            evaluation_periods=_int(rule, "evaluation_periods", 1, label),
            datapoints_to_alarm=_int(rule, "datapoints_to_alarm", _int(rule, "evaluation_periods", 1, label), label),
            threshold=_float(rule, "threshold", label),
            comparison=Comparison.parse(str(rule.get("comparison", ">"))),
            treat_missing_data=MissingData(str(rule.get("treat_missing_data", "missing"))),
            description=str(rule.get("description", "")),
            version=str(version) if version is not None else None,
        )
    except (ValueError, UnknownStatistic) as exc:
        raise ConfigError(f"{label}: {exc}") from exc


def _int(rule: Mapping[str, Any], key: str, default: int, label: str) -> int:
    value = rule.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{label}: {key} must be a whole number")
    return value


def _float(rule: Mapping[str, Any], key: str, label: str) -> float:
    value = rule.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{label}: {key} is required and must be a number")
    return float(value)
