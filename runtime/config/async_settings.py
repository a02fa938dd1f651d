"""Asynchronous invocation settings: the fleet-wide `async:` section and each function's EventInvokeConfig / DeadLetterQueue.

Read at load time, so a typo in either fails every command alike; the queue
(runtime/async_invoke/) applies them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdatop.runtime.config.loading import FleetConfig, FunctionConfig, check_known_keys
from lambdatop.runtime.config.yamlfile import line_of
from lambdatop.runtime.errors import ConfigError

DEFAULT_DELAY_SCALE = 0.01  # Lambda's 1 min / 2 min retry delays become 0.6 s / 1.2 s
DEFAULT_MAX_CONCURRENCY = 16  # deliveries in flight per function (never more than its concurrency limit)


@dataclass(frozen=True)
class QueueSettings:
    """The fleet-wide `async:` section of lambdatop.yaml."""

    delay_scale: float = DEFAULT_DELAY_SCALE
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY

    @classmethod
    def from_config(cls, config: FleetConfig) -> QueueSettings:
        section = config.sections.get("async") or {}
        path = str(config.path)
        if not isinstance(section, Mapping):
            raise ConfigError("must be a mapping (delay_scale, max_concurrency)", path=path, key="async")

        check_known_keys(section, ("delay_scale", "max_concurrency"), section="async", path=path, key_prefix="async.")
        scale = section.get("delay_scale", DEFAULT_DELAY_SCALE)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 <= scale <= 1:
            raise ConfigError(f"must be a number from 0 to 1 (1 = Lambda's real delays), got {scale!r}",
                              path=path, key="async.delay_scale", line=line_of(section, "delay_scale"))
        limit = section.get("max_concurrency", DEFAULT_MAX_CONCURRENCY)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"must be a whole number above 0, got {limit!r}", path=path, key="async.max_concurrency",
                              line=line_of(section, "max_concurrency"))
        return cls(float(scale), limit)


DEFAULT_MAX_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_S = 21_600  # 6 hours
RETRY_RANGE = (0, 2)
EVENT_AGE_RANGE = (60, 21_600)


_ASYNC_KEYS = {
    "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig",  # SAM's EventInvokeConfig
    "maximum_retry_attempts", "max_retry_attempts", "maximum_event_age", "max_event_age",  # lambdatop.yaml short forms
    "destinations", "OnSuccess", "OnFailure", "on_success", "on_failure",
}


@dataclass(frozen=True)
class Target:
    """One destination: a function of the fleet, or a local queue."""

    kind: str  # "function" or "queue"
    name: str  # function name or queue name
    arn: str  # as configured (for the screen)

    def describe(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class AsyncSettings:
    """A function's asynchronous invocation configuration."""

    max_retry_attempts: int = DEFAULT_MAX_RETRY_ATTEMPTS
    max_event_age_s: int = DEFAULT_MAX_EVENT_AGE_S
    on_success: Target | None = None
    on_failure: Target | None = None
    dead_letter: Target | None = None

    @classmethod
    def of(cls, function: FunctionConfig) -> AsyncSettings:
        """Read `EventInvokeConfig`/`async:` and `DeadLetterQueue`; raises ConfigError on values Lambda refuses."""
        raw = function.event_invoke_config or {}
        path, line = (function.source.rsplit(":", 1) + [""])[:2] if function.source else (None, "")
        where: dict[str, Any] = {"path": path, "line": int(line) if str(line).isdigit() else None, "function": function.name}

        def pick(*keys: str) -> tuple[Any, str]:
            for key in keys:
                if key in raw and raw[key] is not None:
                    return raw[key], key
            return None, keys[0]

        def bounded(found: tuple[Any, str], default: int, bounds: tuple[int, int]) -> int:
            value, key = found
            if value is None:
                return default
            if isinstance(value, bool) or not isinstance(value, int) or not bounds[0] <= value <= bounds[1]:
                here = {**where, "line": line_of(raw, key) or where["line"]}
                raise ConfigError(f"must be a whole number from {bounds[0]} to {bounds[1]}, got {value!r}", key=key, **here)
            return value

        check_known_keys(raw, _ASYNC_KEYS, section="EventInvokeConfig", **where)
        retries = bounded(pick("MaximumRetryAttempts", "maximum_retry_attempts", "max_retry_attempts"),
                          DEFAULT_MAX_RETRY_ATTEMPTS, RETRY_RANGE)
        age = bounded(pick("MaximumEventAgeInSeconds", "maximum_event_age", "max_event_age"),
                      DEFAULT_MAX_EVENT_AGE_S, EVENT_AGE_RANGE)
        destinations = pick("DestinationConfig", "destinations")[0] or {}
        if not isinstance(destinations, Mapping):
            raise ConfigError("must be a mapping with OnSuccess and/or OnFailure", key="DestinationConfig", **where)
        on_success = _target(destinations.get("OnSuccess") or pick("OnSuccess", "on_success")[0], "OnSuccess", where)
        on_failure = _target(destinations.get("OnFailure") or pick("OnFailure", "on_failure")[0], "OnFailure", where)
        dlq_raw = function.dead_letter_queue or {}
        dead_letter = None
        if dlq_raw:
            target = dlq_raw.get("TargetArn") or dlq_raw.get("target_arn") or dlq_raw.get("queue") or dlq_raw.get("Destination")
            kind = str(dlq_raw.get("Type") or dlq_raw.get("type") or "SQS")
            if kind.upper() not in ("SQS", "SNS"):
                raise ConfigError(f"DeadLetterQueue Type must be SQS or SNS, got {kind!r}", key="DeadLetterQueue", **where)
            if not target:
                raise ConfigError("DeadLetterQueue needs a TargetArn", key="DeadLetterQueue", **where)
            dead_letter = Target("queue", _queue_name(str(target)), str(target))
        return cls(retries, age, on_success, on_failure, dead_letter)


def _target(raw: Any, key: str, where: dict[str, Any]) -> Target | None:
    """`{Type: Lambda|SQS|SNS|EventBridge|S3, Destination: arn}`, or lambdatop's `{function: name}` / `{queue: name}` / an ARN."""
    if raw is None or raw == {}:
        return None
    if isinstance(raw, str):
        raw = {"Destination": raw}
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a mapping like {Type: Lambda, Destination: <function ARN>}", key=key, **where)
    if raw.get("function"):
        return Target("function", str(raw["function"]), str(raw["function"]))
    if raw.get("queue"):
        return Target("queue", str(raw["queue"]), str(raw["queue"]))
    destination = raw.get("Destination")
    kind = str(raw.get("Type") or "").lower()
    if not destination:
        if kind in ("sqs", "sns"):
            # SAM creates a queue/topic when the Destination is left out: here, a local queue named for it.
            name = f"{where['function']}-{key}"
            return Target("queue", name, f"<{raw.get('Type')} created by SAM: {name}>")
        raise ConfigError("needs a Destination (an ARN)", key=key, **where)
    destination = str(destination)
    if kind == "lambda" or ":function:" in destination:
        return Target("function", _function_name(destination), destination)
    if kind and kind not in ("sqs", "sns", "eventbridge", "s3"):
        raise ConfigError(f"Type must be SQS, SNS, Lambda, EventBridge or S3, got {raw.get('Type')!r}", key=key, **where)
    return Target("queue", _queue_name(destination), destination)


def _function_name(arn: str) -> str:
    if ":function:" in arn:
        return arn.split(":function:", 1)[1].split(":")[0]
    match = re.fullmatch(r"<(?:GetAtt|Ref) ([^.>]+)(?:\.\w+)?>", arn)
    return match.group(1) if match else arn


def _queue_name(arn: str) -> str:
    """The local queue a target ARN (or an unresolved `<GetAtt Queue.Arn>`) stands for."""
    match = re.fullmatch(r"<(?:GetAtt|Ref) ([^.>]+)(?:\.\w+)?>", arn)
    if match:
        return match.group(1)
    if arn.startswith("arn:"):
        return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    return arn.rstrip("/").rsplit("/", 1)[-1]  # a queue URL


