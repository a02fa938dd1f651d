"""SLOW ON PURPOSE (about 62 s): `rate(1 minute)` fires one real minute after lambdatop starts, with no time scale
and no fire-now hook, from a function's Schedule event and from an AWS::Events::Rule of the template alike;
the disabled twin stays quiet. Every other schedule test uses at(), a Scheduler rate or fire-now instead."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from tests.test_schedules_firing import ECHO, running

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Ticker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ticker/
      Handler: app.handler
      Events:
        Tick:
          Type: Schedule
          Properties: {Schedule: rate(1 minute), Name: every-minute}
        Paused:
          Type: Schedule
          Properties: {Schedule: rate(1 minute), Enabled: false}
  TickRule:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(1 minute)
      Targets:
        - Arn: !GetAtt Ticker.Arn
          Id: ticker
          Input: '{"from": "the rule"}'
"""


@pytest.mark.timeout(100)
async def test_rate_one_minute_fires_after_one_real_minute(tmp_path: Path) -> None:
    (tmp_path / "ticker").mkdir()
    (tmp_path / "ticker" / "app.py").write_text(ECHO)
    template = tmp_path / "template.yaml"
    template.write_text(textwrap.dedent(TEMPLATE))
    started = time.time()
    async with running(template) as run:
        results = await run.invocations(2, timeout=75)
        by_source = {}
        for result in results:
            event = json.loads(result.request)
            by_source["rule" if event.get("from") == "the rule" else "event"] = (result, event)
        tick, tick_event = by_source["event"]
        assert tick_event["detail-type"] == "Scheduled Event"
        assert tick_event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/every-minute"]
        rule, _ = by_source["rule"]
        for result in (tick, rule):
            assert result.record.function == "Ticker" and result.record.trigger == "schedule"
            waited = result.record.started_at - started
            assert 59.5 <= waited <= 70, f"fired {waited:.1f} s after the start, not one minute"
        paused = run.view("TickerPaused")
        assert (paused.enabled, paused.fired, paused.next_fire_at) == (False, 0, None)
        assert [r for r in run.results if r.record.trigger == "schedule"] == results
