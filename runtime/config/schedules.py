"""The schedules a config defines: functions' `Schedule` / `ScheduleV2` events and the template's scheduled rules.

`read_schedules(config)` returns one `ScheduleDefinition` per schedule,
validated as EventBridge validates them; a mistake is a `ConfigError` naming
the file, the line, the function and the key. It runs at config load (so a
bad cron fails every command alike, and a reload keeps the last good config)
and again in the schedules service. An expression that depends on something
a local run cannot resolve (a parameter without a default) is kept with the
reason it cannot fire, never dropped.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lambdatop.runtime.config.loading import FleetConfig, FunctionConfig, check_known_keys
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.config.intrinsics import IntrinsicResolver
from lambdatop.runtime.config.cron import (
    UTC,
    InvalidScheduleExpression,
    ScheduleExpression,
    parse_expression,
)
from lambdatop.runtime.config.yamlfile import line_of

SCHEDULE_KEYS = {"Schedule", "Input", "Enabled", "State", "Name", "Description", "DeadLetterConfig", "RetryPolicy", "RoleArn"}
SCHEDULE_V2_KEYS = {
    "ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Input", "State", "StartDate", "EndDate",
    "Name", "Description", "GroupName", "OmitName", "DeadLetterConfig", "RetryPolicy", "RoleArn", "KmsKeyArn",
    "PermissionsBoundary",
}
RULE_STATES = ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
MAX_WINDOW_MIN = 1440


class ScheduleKind(enum.StrEnum):
    SCHEDULE = "Schedule"  # a function's SAM event: an EventBridge rule with a schedule
    SCHEDULE_V2 = "ScheduleV2"  # a function's SAM event: an EventBridge Scheduler schedule
    RULE = "AWS::Events::Rule"  # a rule resource of the template with a ScheduleExpression

    @property
    def sends_scheduled_event(self) -> bool:
        """Rules deliver the Scheduled Event (or their Input); the Scheduler delivers its Input."""
        return self is not ScheduleKind.SCHEDULE_V2


@dataclass(frozen=True)
class ScheduleTarget:
    function: str
    input: str | None = None  # the configured Input (JSON text), None when none is set


@dataclass(frozen=True)
class ScheduleDefinition:
    """One schedule, as configured: what fires, when, and what it sends."""

    name: str  # Name, else SAM's logical id for it ({Function}{EventId}) or the rule's logical id
    key: str  # unique: "Function/EventId", or the rule's logical id
    kind: ScheduleKind
    expression_text: str
    expression: ScheduleExpression | None  # None when it could not be resolved (see `unresolved`)
    targets: tuple[ScheduleTarget, ...]
    arn: str
    source: str  # "file:line" of the expression
    enabled: bool = True
    timezone: str = "UTC"
    zone: tzinfo = UTC
    description: str = ""
    start: datetime | None = None  # ScheduleV2 StartDate / EndDate (aware)
    end: datetime | None = None
    window_min: int = 0  # ScheduleV2 FlexibleTimeWindow: 0 = OFF, else MaximumWindowInMinutes
    unresolved: str | None = None

    @property
    def functions(self) -> tuple[str, ...]:
        return tuple(t.function for t in self.targets)


def read_schedules(config: FleetConfig) -> list[ScheduleDefinition]:
    """Every schedule of `config`; raises ConfigError (file, line, function, key) for one EventBridge would refuse."""
    found: list[ScheduleDefinition] = []
    for function in config.functions.values():
        for event_id, spec in (function.events or {}).items():
            if isinstance(spec, Mapping) and spec.get("Type") in (ScheduleKind.SCHEDULE, ScheduleKind.SCHEDULE_V2):
                found.append(_EventReader(config, function, str(event_id), spec).read())
    found.extend(_template_rules(config))
    seen: dict[str, ScheduleDefinition] = {}
    for schedule in found:
        other = seen.setdefault(schedule.name, schedule)
        if other is not schedule:
            path, _, line = schedule.source.rpartition(":")
            raise ConfigError(f"schedule name {schedule.name!r} is already used by {other.key} ({other.source})",
                              path=path, line=int(line) if line.isdigit() else None, key="Name")
    return found


def find_schedule(schedules: list[ScheduleDefinition], name: str) -> ScheduleDefinition | None:
    """The schedule `name` refers to: its name, its key ("Function/EventId"), or an event id only one function uses."""
    for schedule in schedules:
        if name in (schedule.name, schedule.key):
            return schedule
    by_event = [s for s in schedules if s.key.rpartition("/")[2] == name]
    return by_event[0] if len(by_event) == 1 else None


# -- a function's Schedule / ScheduleV2 event --------------------------------------------


class _EventReader:
    def __init__(self, config: FleetConfig, function: FunctionConfig, event_id: str, spec: Mapping[str, Any]) -> None:
        self.config = config
        self.function = function
        self.event_id = event_id
        self.kind = ScheduleKind(spec["Type"])
        self.path, _, line = function.source.rpartition(":")
        self.line = int(line) if line.isdigit() else None
        self.prefix = f"{'Events' if config.template_path and self.path == str(config.template_path) else 'events'}.{event_id}.Properties"
        self.spec_line = line_of(spec, "Properties") or line_of(spec, "Type") or self.line
        self.props: Mapping[str, Any] = {}
        props = spec.get("Properties")
        if props is not None and not isinstance(props, Mapping):
            raise self.error(f"must be a mapping, got {type(props).__name__}", None, "")
        self.props = props or {}

    def error(self, message: str, key: str | None, suffix: str | None = None) -> ConfigError:
        line = (line_of(self.props, key) if key else None) or self.spec_line
        full_key = f"{self.prefix}.{key}" if key else self.prefix + (suffix or "")
        return ConfigError(message, path=self.path, line=line, function=self.function.name, key=full_key)

    def read(self) -> ScheduleDefinition:
        v2 = self.kind is ScheduleKind.SCHEDULE_V2
        check_known_keys(self.props, SCHEDULE_V2_KEYS if v2 else SCHEDULE_KEYS, section=f"{self.kind} event {self.event_id}",
                         path=self.path, key_prefix=self.prefix + ".", function=self.function.name, line=self.spec_line)
        expression_key = "ScheduleExpression" if v2 else "Schedule"
        text, expression, unresolved = self._expression(expression_key, allow_at=v2)
        name = self._string("Name") or f"{self.function.name}{self.event_id}"
        region, account = self.config.region, self.config.account_id
        if v2:
            group = self._string("GroupName") or "default"
            arn = f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{name}"
        else:
            arn = f"arn:aws:events:{region}:{account}:rule/{name}"
        timezone, zone = self._timezone() if v2 else ("UTC", UTC)
        start, end = (self._date("StartDate"), self._date("EndDate")) if v2 else (None, None)
        if start and end and end <= start:
            raise self.error("must be after StartDate", "EndDate")
        return ScheduleDefinition(
            name=name, key=f"{self.function.name}/{self.event_id}", kind=self.kind, expression_text=text,
            expression=expression, targets=(ScheduleTarget(self.function.name, self._input()),), arn=arn,
            source=f"{self.path}:{line_of(self.props, expression_key) or self.spec_line}", enabled=self._enabled(v2),
            timezone=timezone, zone=zone, description=self._string("Description") or "", start=start, end=end,
            window_min=self._window() if v2 else 0, unresolved=unresolved,
        )

    def _expression(self, key: str, *, allow_at: bool) -> tuple[str, ScheduleExpression | None, str | None]:
        value = self.props.get(key)
        if value is None:
            raise self.error("is required (e.g. rate(5 minutes) or cron(0 12 * * ? *))", key if key in self.props else None,
                             f".{key}")
        if isinstance(value, str) and "<" in value:
            return value, None, f"cannot be resolved locally: {value}"
        try:
            return str(value), parse_expression(value, allow_at=allow_at), None
        except InvalidScheduleExpression as exc:
            raise self.error(str(exc), key) from None

    def _string(self, key: str) -> str | None:
        value = self.props.get(key)
        if value is None:
            return None
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise self.error(f"must be a string, got {type(value).__name__}", key)
        return str(value)

    def _enabled(self, v2: bool) -> bool:
        if not v2 and "Enabled" in self.props and "State" in self.props:
            raise self.error("set Enabled or State, not both (as SAM requires)", "State")
        if "Enabled" in self.props:
            enabled = self.props["Enabled"]
            if not isinstance(enabled, bool):
                raise self.error(f"must be true or false, got {enabled!r}", "Enabled")
            return enabled
        state = self._string("State") or "ENABLED"
        allowed = ("ENABLED", "DISABLED") if v2 else RULE_STATES
        if state not in allowed:
            raise self.error(f"must be one of {', '.join(allowed)}, got {state!r}", "State")
        return state != "DISABLED"

    def _input(self) -> str | None:
        return _input_text(self.props.get("Input"), lambda message: self.error(message, "Input"))

    def _timezone(self) -> tuple[str, tzinfo]:
        name = self._string("ScheduleExpressionTimezone")
        if not name:
            return "UTC", UTC
        try:
            return name, ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.error(f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)",
                             "ScheduleExpressionTimezone") from None

    def _date(self, key: str) -> datetime | None:
        text = self._string(key)
        if text is None:
            return None
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise self.error(f"must be an ISO 8601 date and time such as 2030-01-31T09:30:00Z, got {text!r}", key) from None
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)

    def _window(self) -> int:
        window = self.props.get("FlexibleTimeWindow")
        if window is None:
            return 0
        if not isinstance(window, Mapping):
            raise self.error("must be a mapping (Mode, MaximumWindowInMinutes)", "FlexibleTimeWindow")
        mode = window.get("Mode", "OFF")
        if mode == "OFF":
            return 0
        if mode != "FLEXIBLE":
            raise self.error(f"Mode must be OFF or FLEXIBLE, got {mode!r}", "FlexibleTimeWindow")
        minutes = window.get("MaximumWindowInMinutes")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_WINDOW_MIN:
            raise self.error(f"MaximumWindowInMinutes must be 1-{MAX_WINDOW_MIN} with Mode FLEXIBLE, got {minutes!r}",
                             "FlexibleTimeWindow")
        return minutes


def _input_text(value: Any, error: Any) -> str | None:
    """Input is JSON text (a YAML mapping is taken as the JSON it would be); EventBridge refuses anything else."""
    if value is None:
        return None
    if isinstance(value, (Mapping, list)):
        return json.dumps(value)
    if not isinstance(value, str):
        raise error(f"must be JSON text, got {type(value).__name__}")
    try:
        json.loads(value)
    except ValueError as exc:
        raise error(f"must be valid JSON text: {exc}") from None
    return value


# -- the template's AWS::Events::Rule resources with a ScheduleExpression ---------------------


def _template_rules(config: FleetConfig) -> list[ScheduleDefinition]:
    template = config.template
    resources = (template or {}).get("Resources")
    if not isinstance(resources, Mapping):
        return []
    rules = {rid: r for rid, r in resources.items()
             if isinstance(r, Mapping) and r.get("Type") == ScheduleKind.RULE
             and isinstance(r.get("Properties"), Mapping) and "ScheduleExpression" in r["Properties"]}
    if not rules:
        return []
    resolver = _resolver(config)
    path = str(config.template_path)
    found = []
    for rid, resource in rules.items():
        if "Condition" in resource and not resolver.condition(str(resource["Condition"])):
            continue
        props = resolver.resolve(resource["Properties"])
        key = f"Resources.{rid}.Properties"

        def error(message: str, prop: str, rid: str = rid, props: Any = props, key: str = key) -> ConfigError:
            return ConfigError(message, path=path, line=line_of(props, prop) or line_of(resources, rid), key=f"{key}.{prop}")

        targets = _function_targets(config, props.get("Targets") or [], error)
        if not targets:
            continue  # no function of the template among its targets: not a schedule lambdatop runs
        text = props["ScheduleExpression"]
        expression, unresolved = None, None
        if isinstance(text, str) and "<" in text:
            unresolved = f"cannot be resolved locally: {text}"
        else:
            try:
                expression = parse_expression(text)
            except InvalidScheduleExpression as exc:
                raise error(str(exc), "ScheduleExpression") from None
        state = props.get("State", "ENABLED")
        if state not in RULE_STATES:
            raise error(f"must be one of {', '.join(RULE_STATES)}, got {state!r}", "State")
        name = str(props.get("Name") or rid)
        found.append(ScheduleDefinition(
            name=name, key=str(rid), kind=ScheduleKind.RULE, expression_text=str(text), expression=expression,
            targets=targets, arn=f"arn:aws:events:{config.region}:{config.account_id}:rule/{name}",
            source=f"{path}:{line_of(props, 'ScheduleExpression') or line_of(resources, rid)}", enabled=state != "DISABLED",
            description=str(props.get("Description") or ""), unresolved=unresolved,
        ))
    return found


def _function_targets(config: FleetConfig, targets: Any, error: Any) -> tuple[ScheduleTarget, ...]:
    """The rule's targets that are functions of this config (by ARN, with or without a qualifier, or by name)."""
    if not isinstance(targets, list):
        raise error("must be a list of targets", "Targets")
    by_name = {name: f.name for f in config.functions.values() for name in f.names}
    prefix = f"arn:aws:lambda:{config.region}:{config.account_id}:function:"
    found = []
    for target in targets:
        arn = str(target.get("Arn", "")) if isinstance(target, Mapping) else ""
        name = arn[len(prefix):].split(":")[0] if arn.startswith(prefix) else arn
        if name in by_name:
            found.append(ScheduleTarget(by_name[name], _input_text(target.get("Input"), lambda m: error(m, "Targets"))))
    return tuple(found)


def _resolver(config: FleetConfig) -> IntrinsicResolver:
    """Intrinsics of the rule resources, resolved as the template's functions were (parameters' defaults, pseudo
    parameters, function ARNs)."""
    template = config.template or {}
    stack = os.environ.get("LAMBDATOP_STACK_NAME", config.template_path.parent.name if config.template_path else "lambdatop")
    pseudo = {"AWS::Region": config.region, "AWS::AccountId": config.account_id, "AWS::StackName": stack,
              "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": [],
              "AWS::StackId": f"arn:aws:cloudformation:{config.region}:{config.account_id}:stack/{stack}/local"}
    parameters = config.parameters  # the template's values, overrides included (checked when it loaded)
    physical = {f.name: f.function_name or f.name for f in config.functions.values()}
    resources = template.get("Resources") or {}
    return IntrinsicResolver(
        parameters=parameters, pseudo=pseudo, mappings=template.get("Mappings") or {},
        conditions=template.get("Conditions") or {},
        function_arns={rid: config.function_arn(name) for rid, name in physical.items()},
        resource_names={rid: f"<{rid}>" for rid in resources} | physical,
    )
