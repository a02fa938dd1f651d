"""When a schedule fires next, and what each firing sends its functions.

Rules (`Schedule` events, `AWS::Events::Rule`) send the Scheduled Event
(LAMBDA.md §9), or their target's `Input` instead when one is set. The
Scheduler (`ScheduleV2`) sends its `Input` as is, with its context attributes
(`<aws.scheduler.scheduled-time>`, ...) filled in.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

from lambdatop.runtime.config.loading import FleetConfig
from lambdatop.runtime.config.cron import (
    UTC,
    AtExpression,
    CronExpression,
    RateExpression,
    next_at,
    next_cron,
    next_rate,
)
from lambdatop.runtime.config.schedules import (
    ScheduleDefinition,
    ScheduleKind,
    ScheduleTarget,
)

# What the Scheduler sends a Lambda target that has no Input: unconfirmed (LAMBDA.md §13, "Default payload of
# EventBridge Scheduler: not checked"). An empty JSON object is the guess; set Input to be sure of the payload.
SCHEDULER_DEFAULT_INPUT = "{}"
_INSTANT = timedelta(microseconds=1)


def next_fire_time(schedule: ScheduleDefinition, *, anchor: datetime, after: datetime, inclusive: bool) -> datetime | None:
    """The schedule's first time after `after` (at or after, with `inclusive`); None when it never fires again.

    `anchor` is when the schedule was created here (lambdatop's start, or the
    reload that added or changed it): a rule's rate counts from it, first
    firing one period later ("a rate expression starts when you create the
    rule"); a Scheduler rate starts at StartDate, else at once. The Scheduler
    fires nothing before StartDate nor after EndDate.
    """
    expression = schedule.expression
    if expression is None:
        return None
    if inclusive:
        after -= _INSTANT
    if schedule.start is not None and after < schedule.start:
        after = schedule.start - _INSTANT
    at: datetime | None
    if isinstance(expression, RateExpression):
        if schedule.kind is ScheduleKind.SCHEDULE_V2:
            first = schedule.start or anchor
        else:
            first = anchor + expression.period
        at = next_rate(expression, first, after)
    elif isinstance(expression, CronExpression):
        at = next_cron(expression, after, schedule.zone)
    else:
        assert isinstance(expression, AtExpression)
        at = next_at(expression, after, schedule.zone)
    if at is not None and schedule.end is not None and at > schedule.end:
        return None
    return at


def scheduled_event(schedule: ScheduleDefinition, config: FleetConfig, at: datetime) -> dict[str, object]:
    """The Scheduled Event an EventBridge rule sends (LAMBDA.md §9)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": config.account_id,
        "time": _iso(at),
        "region": config.region,
        "resources": [schedule.arn],
        "detail": {},
    }


def payload_for(schedule: ScheduleDefinition, target: ScheduleTarget, config: FleetConfig, at: datetime) -> bytes:
    """What one firing at `at` sends to `target`."""
    if schedule.kind.sends_scheduled_event:
        if target.input is not None:
            return target.input.encode()
        return json.dumps(scheduled_event(schedule, config, at)).encode()
    text = target.input if target.input is not None else SCHEDULER_DEFAULT_INPUT
    attributes = {
        "<aws.scheduler.schedule-arn>": schedule.arn,
        "<aws.scheduler.scheduled-time>": _iso(at),
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": "1",
    }
    for attribute, value in attributes.items():
        text = text.replace(attribute, value)
    return text.encode()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
