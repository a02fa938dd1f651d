"""DeploymentPreference: a new version takes its alias step by step, and an alarm rolls it back.

Real workers, a real file edit, the real alarm evaluation (a 1-second Errors alarm), boto3 over
loopback; the time scale makes CodeDeploy's minutes short.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text

from lambdatop.runtime.api.endpoint import LambdaEndpoint
from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.config import load_config
from lambdatop.runtime.config.deployment import ShiftKind
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.service import ObservabilityService
from lambdatop.runtime.reload.service import ReloadService
from lambdatop.tui.screens.function import _append_versions
from tests.conftest import lambdatop_processes
from tests.reload_support import Watched, alive

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.11
      AutoPublishAlias: live
      DeploymentPreference:
        Type: Canary10Percent10Minutes
        Alarms: [fn-errors]
"""
LAMBDATOP = """\
template: template.yaml
deployments: {{time_scale: {scale}}}
alarms:
  defaults: false
  rules:
    - {{name: fn-errors, function: Fn, metric: Errors, period: 1, threshold: 0, treat_missing_data: notBreaching}}
"""
GOOD = "def handler(event, context):\n    return {'code': '%s'}\n"
BROKEN = "def handler(event, context):\n    raise ValueError('the new version is broken')\n"


@contextlib.asynccontextmanager
async def _fleet(root: Path, scale: float) -> AsyncIterator[tuple[Watched, Any]]:
    (root / "fn").mkdir()
    (root / "fn" / "app.py").write_text(GOOD % "one")
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "lambdatop.yaml").write_text(LAMBDATOP.format(scale=scale))
    fleet = Fleet(root / "lambdatop.yaml")
    fleet.add_service(ObservabilityService())
    reload = ReloadService()
    fleet.add_service(reload)
    endpoint = LambdaEndpoint("127.0.0.1", 0)
    fleet.add_service(endpoint)
    subscription = fleet.subscribe("test-shifting")
    async with fleet:
        watched = Watched(fleet, reload, subscription)
        await watched.settle()
        yield watched, endpoint
    assert not alive(lambdatop_processes()), "a worker or zygote outlived the fleet"


@pytest.fixture
def shifting(tmp_path: Path) -> Callable[[float], Any]:
    return lambda scale: _fleet(tmp_path, scale)


async def deployment_event(watched: Watched, words: str, timeout: float = 30.0) -> FleetEvent:
    """The next `deployment` event whose message has `words` (skipping the others)."""
    while True:
        event = await watched.next_event("deployment", "Fn", timeout=timeout)
        if words in event.message:
            return event


async def test_a_canary_takes_ten_percent_then_the_whole_alias(shifting, lambda_client) -> None:
    async with shifting(0.002) as (watched, endpoint):  # 10 minutes: 1.2 s
        client = lambda_client(endpoint.url)
        watched.forget()
        (watched.fleet.config.root / "fn" / "app.py").write_text(GOOD % "two")
        first = await deployment_event(watched, "shifting to version 2")
        assert (first.detail["from"], first.detail["to"], first.detail["share"]) == ("1", "2", 0.1)
        done = await deployment_event(watched, "takes all traffic")
        assert done.detail["state"] == "succeeded"
        alias = await asyncio.to_thread(client.get_alias, FunctionName="Fn", Name="live")
        assert alias["FunctionVersion"] == "2" and "RoutingConfig" not in alias
        answer = await asyncio.to_thread(client.invoke, FunctionName="Fn:live")
        assert answer["ExecutedVersion"] == "2" and json.loads(answer["Payload"].read()) == {"code": "two"}


async def test_an_alarm_during_the_canary_rolls_the_alias_back(shifting, lambda_client) -> None:
    async with shifting(0.05) as (watched, endpoint):  # 10 minutes: 30 s, ample for the alarm to fire
        client = lambda_client(endpoint.url)
        watched.forget()
        (watched.fleet.config.root / "fn" / "app.py").write_text(BROKEN)
        await deployment_event(watched, "shifting to version 2")
        alias = await asyncio.to_thread(client.get_alias, FunctionName="Fn", Name="live")
        assert (alias["FunctionVersion"], alias["RoutingConfig"]) == ("1", {"AdditionalVersionWeights": {"2": 0.1}})
        # Invoke the alias until the canary serves one (10 % of them): it fails, Errors > 0 fires the alarm.
        for _ in range(400):
            answer = await asyncio.to_thread(client.invoke, FunctionName="Fn:live")
            if answer["ExecutedVersion"] == "2":
                assert answer["FunctionError"] == "Unhandled"
                break
        else:
            raise AssertionError("the canary never served an invocation")
        rolled = await deployment_event(watched, "rolled back")
        assert (rolled.detail["state"], rolled.detail["reason"]) == ("rolled_back", "alarm fn-errors is in ALARM")
        alias = await asyncio.to_thread(client.get_alias, FunctionName="Fn", Name="live")
        assert alias["FunctionVersion"] == "1" and "RoutingConfig" not in alias
        for _ in range(10):
            answer = await asyncio.to_thread(client.invoke, FunctionName="Fn:live")
            assert answer["ExecutedVersion"] == "1" and "FunctionError" not in answer

        # The function screen's side-by-side view: the canary's errors beside version 1's, the alias rolled back.
        view = next(f for f in watched.fleet.snapshot().functions if f.name == "Fn").versions
        assert view is not None
        by_version = {v.version: v for v in view.versions}
        assert set(by_version) == {"$LATEST", "1", "2"}
        assert by_version["2"].errors == by_version["2"].invocations >= 1
        assert by_version["1"].errors == 0 and by_version["1"].invocations >= 10
        assert by_version["1"].p99_ms is not None and by_version["1"].busy == 0
        (alias,) = view.aliases
        assert (alias.name, alias.function_version, dict(alias.weights)) == ("live", "1", {})
        assert alias.deployment is not None and "Canary10Percent10Minutes 1 → 2: rolled_back" in alias.deployment
        text = Text()
        _append_versions(text, view)
        assert "alias live → 1" in text.plain and "rolled_back" in text.plain


def test_deployment_preferences_are_read_as_codedeploy_defines_them(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(GOOD % "one")
    for written, kind, steps in (
        ("Canary10Percent5Minutes", ShiftKind.CANARY, [(0.0, 0.1), (5.0, 1.0)]),
        ("Linear10PercentEvery1Minute", ShiftKind.LINEAR, [(float(m), round((m + 1) / 10, 6)) for m in range(9)] + [(9.0, 1.0)]),
        ("AllAtOnce", ShiftKind.ALL_AT_ONCE, [(0.0, 1.0)]),
    ):
        (tmp_path / "template.yaml").write_text(TEMPLATE.replace("Canary10Percent10Minutes", written))
        preference = load_config(tmp_path / "template.yaml").functions["Fn"].deployment_preference
        assert preference is not None and (preference.kind, preference.steps(), preference.alarms) == (kind, steps, ("fn-errors",))
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace("Alarms: [fn-errors]", "Enabled: false"))
    assert load_config(tmp_path / "template.yaml").functions["Fn"].deployment_preference is None
    (tmp_path / "lambdatop.yaml").write_text(textwrap.dedent("""\
        template: template.yaml
        deployments: {time_scale: 2}
    """))
    with pytest.raises(ConfigError, match="must be a number from 0 to 1"):
        load_config(tmp_path / "lambdatop.yaml")
