"""Which schedules a config defines, how a mistake in one is reported, and what each firing sends."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lambdatop.runtime.config import load_config
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.config.schedule_firing import next_fire_time, payload_for
from lambdatop.runtime.config.schedules import (
    ScheduleKind,
    find_schedule,
    read_schedules,
)

HANDLER = "def handler(event, context):\n    return event\n"

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Every:
    Type: String
    Default: "5"
  Later:  # its value is in SSM: not resolvable locally
    {Type: "AWS::SSM::Parameter::Value<String>", Default: /reports/later-minutes}
Resources:
  Reporter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: reporter/
      Handler: app.handler
      Events:
        Nightly:
          Type: Schedule
          Properties:
            Schedule: cron(0 3 * * ? *)
            Input: '{"report": "daily"}'
            Description: the nightly report
        Often:
          Type: Schedule
          Properties:
            Schedule: !Sub "rate(${Every} minutes)"
            Name: reporter-often
            Enabled: false
        Whenever:
          Type: Schedule
          Properties:
            Schedule: !Sub "rate(${Later} minutes)"
        Morning:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 9 ? * MON-FRI *)
            ScheduleExpressionTimezone: Europe/Paris
            FlexibleTimeWindow: {Mode: FLEXIBLE, MaximumWindowInMinutes: 15}
            Input: '{"at": "<aws.scheduler.scheduled-time>", "arn": "<aws.scheduler.schedule-arn>"}'
            GroupName: reports
            StartDate: "2027-01-01T00:00:00Z"
            EndDate: "2027-12-31T00:00:00Z"
  Cleaner:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: reporter/
      Handler: app.handler
  CleanupRule:
    Type: AWS::Events::Rule
    Properties:
      Name: cleanup
      ScheduleExpression: rate(1 hour)
      State: DISABLED
      Targets:
        - Arn: !GetAtt Cleaner.Arn
          Id: cleaner
        - Arn: !GetAtt Reporter.Arn
          Id: reporter
          Input: '{"from": "cleanup"}'
        - Arn: arn:aws:sqs:us-east-1:123456789012:elsewhere
          Id: queue
  PatternRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [orders]}
      Targets:
        - Arn: !GetAtt Cleaner.Arn
          Id: cleaner
"""


@pytest.fixture
def sam_project(tmp_path: Path) -> Callable[[str], Path]:
    def write(template: str) -> Path:
        (tmp_path / "reporter").mkdir(exist_ok=True)
        (tmp_path / "reporter" / "app.py").write_text(HANDLER)
        path = tmp_path / "template.yaml"
        path.write_text(textwrap.dedent(template))
        return path

    return write


def test_function_events_and_scheduled_rules_of_a_template(sam_project: Callable[[str], Path]) -> None:
    config = load_config(sam_project(TEMPLATE))
    schedules = {s.key: s for s in read_schedules(config)}
    assert set(schedules) == {"Reporter/Nightly", "Reporter/Often", "Reporter/Whenever", "Reporter/Morning", "CleanupRule"}

    nightly = schedules["Reporter/Nightly"]
    assert (nightly.name, nightly.kind, nightly.enabled, nightly.timezone) == ("ReporterNightly", ScheduleKind.SCHEDULE, True, "UTC")
    assert nightly.arn == "arn:aws:events:us-east-1:123456789012:rule/ReporterNightly"
    assert nightly.targets[0].input == '{"report": "daily"}' and nightly.description == "the nightly report"
    assert nightly.source.endswith("template.yaml:19")  # the line of its Schedule

    often = schedules["Reporter/Often"]
    assert (often.name, often.expression_text, often.enabled) == ("reporter-often", "rate(5 minutes)", False)
    # A parameter without a default cannot be resolved here: listed, with the reason, and never fired.
    whenever = schedules["Reporter/Whenever"]
    assert whenever.expression is None and "cannot be resolved locally" in (whenever.unresolved or "")

    morning = schedules["Reporter/Morning"]
    assert (morning.kind, morning.timezone, morning.window_min) == (ScheduleKind.SCHEDULE_V2, "Europe/Paris", 15)
    assert morning.arn == "arn:aws:scheduler:us-east-1:123456789012:schedule/reports/ReporterMorning"
    assert morning.start == datetime(2027, 1, 1, tzinfo=UTC) and morning.end == datetime(2027, 12, 31, tzinfo=UTC)

    rule = schedules["CleanupRule"]
    assert (rule.name, rule.kind, rule.enabled) == ("cleanup", ScheduleKind.RULE, False)
    assert [(t.function, t.input) for t in rule.targets] == [("Cleaner", None), ("Reporter", '{"from": "cleanup"}')]

    assert find_schedule(list(schedules.values()), "Nightly") is nightly  # the event id alone, when unique
    assert find_schedule(list(schedules.values()), "cleanup") is rule
    assert find_schedule(list(schedules.values()), "nope") is None


def test_lambdatop_yaml_functions_take_the_same_events(make_project: Callable[..., Path]) -> None:
    config = load_config(make_project({"tick": HANDLER}, """
        functions:
          tick:
            handler: app.handler
            events:
              Tick: {Type: Schedule, Properties: {Schedule: rate(1 minute)}}
    """))
    [tick] = read_schedules(config)
    assert (tick.key, tick.name, tick.expression_text) == ("tick/Tick", "tickTick", "rate(1 minute)")


@pytest.mark.parametrize("change, line, key, says", [
    ("Schedule: cron(0 3 * * ? *)|Schedule: cron(0 3 * * * *)", 19, "Events.Nightly.Properties.Schedule",
     "exactly one of day-of-month (*) and day-of-week (*) must be ?"),
    ("Schedule: cron(0 3 * * ? *)|Schedule: rate(1 minutes)", 19, "Events.Nightly.Properties.Schedule", "rate(1 minute)"),
    ("Schedule: cron(0 3 * * ? *)|Schedul: cron(0 3 * * ? *)", 19, "Events.Nightly.Properties.Schedul", "did you mean 'Schedule'?"),
    ("Input: '{\"report\": \"daily\"}'|Input: 'not json'", 20, "Events.Nightly.Properties.Input", "must be valid JSON text"),
    ("Enabled: false|Enabled: nope", 27, "Events.Often.Properties.Enabled", "must be true or false"),
    ("Europe/Paris|Europe/Atlantis", 36, "Events.Morning.Properties.ScheduleExpressionTimezone", "unknown time zone"),
    ("MaximumWindowInMinutes: 15|MaximumWindowInMinutes: 0", 37, "Events.Morning.Properties.FlexibleTimeWindow",
     "MaximumWindowInMinutes must be 1-1440"),
    ('EndDate: "2027-12-31T00:00:00Z"|EndDate: "2026-12-31T00:00:00Z"', 41, "Events.Morning.Properties.EndDate",
     "must be after StartDate"),
])
def test_a_bad_schedule_names_file_line_function_and_key(
    sam_project: Callable[[str], Path], change: str, line: int, key: str, says: str
) -> None:
    old, new = change.split("|")
    assert old in TEMPLATE
    path = sam_project(TEMPLATE.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_config(path)  # every command loads the config: a bad schedule fails them all alike
    error = caught.value
    assert (error.path, error.line, error.function, error.key) == (str(path), line, "Reporter", key), str(error)
    assert says in error.message
    assert str(error).startswith(f"{path}:{line}: function 'Reporter': {key}: ")


def test_a_bad_rule_expression_names_the_resource_key(sam_project: Callable[[str], Path]) -> None:
    path = sam_project(TEMPLATE.replace("rate(1 hour)", "rate(1 hours)"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.line, caught.value.key) == (51, "Resources.CleanupRule.Properties.ScheduleExpression")


# -- when it fires, and what it sends -----------------------------------------------------------


def test_next_fire_times_by_kind(sam_project: Callable[[str], Path]) -> None:
    config = load_config(sam_project(TEMPLATE.replace("State: DISABLED", "State: ENABLED")))
    schedules = {s.key: s for s in read_schedules(config)}
    created = datetime(2027, 3, 1, 10, 0, 30, tzinfo=UTC)

    def first(key: str) -> datetime | None:
        return next_fire_time(schedules[key], anchor=created, after=created, inclusive=True)

    assert first("Reporter/Nightly") == datetime(2027, 3, 2, 3, 0, tzinfo=UTC)
    assert first("CleanupRule") == created + timedelta(hours=1)  # a rule's rate starts when the rule is created
    # The Scheduler's cron: 09:00 in Paris (CET) on weekdays (Monday's has passed: it is 11:00 there),
    # never before StartDate nor after EndDate.
    assert first("Reporter/Morning") == datetime(2027, 3, 2, 8, 0, tzinfo=UTC)
    before_start = datetime(2026, 12, 1, tzinfo=UTC)
    assert next_fire_time(schedules["Reporter/Morning"], anchor=before_start, after=before_start, inclusive=True) == \
        datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
    after_end = datetime(2027, 12, 31, 0, 0, tzinfo=UTC)
    assert next_fire_time(schedules["Reporter/Morning"], anchor=after_end, after=after_end, inclusive=False) is None


def test_a_scheduler_rate_without_start_date_fires_at_once(make_project: Callable[..., Path]) -> None:
    config = load_config(make_project({"tick": HANDLER}, """
        functions:
          tick:
            handler: app.handler
            events:
              Now: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(10 minutes)}}
              Once: {Type: ScheduleV2, Properties: {ScheduleExpression: at(2030-05-01T12:00:00),
                                                    ScheduleExpressionTimezone: Asia/Tokyo}}
    """))
    now_schedule, once = read_schedules(config)
    created = datetime(2027, 3, 1, 10, 0, 30, tzinfo=UTC)
    assert next_fire_time(now_schedule, anchor=created, after=created, inclusive=True) == created
    assert next_fire_time(now_schedule, anchor=created, after=created, inclusive=False) == created + timedelta(minutes=10)
    assert next_fire_time(once, anchor=created, after=created, inclusive=True) == datetime(2030, 5, 1, 3, 0, tzinfo=UTC)


def test_payloads_scheduled_event_rule_input_and_scheduler_input(sam_project: Callable[[str], Path]) -> None:
    config = load_config(sam_project(TEMPLATE))
    schedules = {s.key: s for s in read_schedules(config)}
    at = datetime(2027, 3, 2, 3, 0, 0, tzinfo=UTC)
    often = schedules["Reporter/Often"]
    event = json.loads(payload_for(often, often.targets[0], config, at))
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert {k: v for k, v in event.items() if k != "id"} == {
        "version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
        "time": "2027-03-02T03:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/reporter-often"], "detail": {},
    }
    nightly = schedules["Reporter/Nightly"]
    assert json.loads(payload_for(nightly, nightly.targets[0], config, at)) == {"report": "daily"}
    morning = schedules["Reporter/Morning"]
    assert json.loads(payload_for(morning, morning.targets[0], config, at)) == {
        "at": "2027-03-02T03:00:00Z", "arn": "arn:aws:scheduler:us-east-1:123456789012:schedule/reports/ReporterMorning"}
