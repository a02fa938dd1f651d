"""A SAM template's own `AWS::CloudWatch::Alarm`s are evaluated, and a canary deploy that watches one rolls back.

The reader is pinned on the alarm shapes SAM apps write (a canary's `Resource: !Sub "${Fn}:live"` beside
`FunctionName: !Ref Fn`, p99 Duration as `ExtendedStatistic`, a custom EMF metric, a parameter's
threshold) and on the ones it must refuse with a reason; then a real fleet, a real edit and the real
alarm evaluation roll a `DeploymentPreference` back on a template alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus
from lambdatop.runtime.observability.alarms import FLEET, AlarmState, Comparison, MissingData
from lambdatop.runtime.observability.service import ObservabilityService
from lambdatop.runtime.observability.template_alarms import template_alarms
from lambdatop.runtime.reload.service import ReloadService
from tests.conftest import lambdatop_processes
from tests.reload_support import Watched, alive
from tests.test_versions_shifting import BROKEN, GOOD, deployment_event
from tests.test_versions_shifting import TEMPLATE as SHIFTING_TEMPLATE

FUNCTIONS = {"Fn": ("Fn", "orders-fn"), "Other": ("Other",)}


def alarm(**properties: Any) -> dict[str, Any]:
    return {"Resources": {"TheAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}}}


CANARY_ALARM = dict(
    AlarmName="orders-canary-errors", AlarmDescription="errors during a deploy", Namespace="AWS/Lambda",
    MetricName="Errors", Statistic="Sum", Period=60, EvaluationPeriods=2, Threshold=0,
    ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
    Dimensions=[{"Name": "Resource", "Value": {"Fn::Sub": "${Fn}:live"}}, {"Name": "FunctionName", "Value": {"Ref": "Fn"}}],
)


def test_a_canary_alarm_reads_as_the_functions_errors_alarm() -> None:
    found = template_alarms(alarm(**CANARY_ALARM), FUNCTIONS)
    assert found.warnings == []
    (definition,) = found.definitions
    assert (definition.name, definition.function, definition.metric, definition.statistic) == ("TheAlarm", "Fn", "Errors", "Sum")
    assert (definition.period, definition.evaluation_periods, definition.datapoints_to_alarm) == (60, 2, 2)
    assert (definition.threshold, definition.comparison, definition.treat_missing_data) == (0.0, Comparison.GT, MissingData.NOT_BREACHING)
    assert definition.description == "orders-canary-errors: errors during a deploy"


@pytest.mark.parametrize(("properties", "expected"), [
    ({"MetricName": "Duration", "ExtendedStatistic": "p99", "Dimensions": [{"Name": "FunctionName", "Value": "orders-fn"}]},
     ("Fn", "Duration", "p99")),
    ({"Namespace": "OrdersApp", "MetricName": "OrdersPlaced", "Statistic": "Sum",
      "Dimensions": [{"Name": "Service", "Value": "orders"}]}, (FLEET, "OrdersApp/OrdersPlaced", "Sum")),
    ({"MetricName": "Throttles", "Statistic": "Sum", "Dimensions": [{"Name": "Resource", "Value": {"Ref": "FnAliaslive"}}]},
     ("Fn", "Throttles", "Sum")),
])
def test_lambda_metrics_by_function_name_or_alias_and_custom_metrics_are_read(properties: dict[str, Any], expected: tuple[str, ...]) -> None:
    base = {"Namespace": "AWS/Lambda", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold"}
    (definition,) = template_alarms(alarm(**{**base, **properties}), FUNCTIONS).definitions
    assert (definition.function, definition.metric, definition.statistic) == expected


@pytest.mark.parametrize(("dimensions", "version"), [
    ([{"Name": "FunctionName", "Value": {"Ref": "Fn"}}, {"Name": "ExecutedVersion", "Value": "2"}], "2"),
    ([{"Name": "Resource", "Value": {"Fn::Sub": "${Fn}:3"}}], "3"),
    # The version an alias's deploy goes to, which only a deployed stack knows: the function's errors, all versions.
    ([{"Name": "Resource", "Value": {"Fn::Sub": "${Fn}:live"}},
      {"Name": "ExecutedVersion", "Value": {"Fn::GetAtt": ["FnAliaslive", "FunctionVersion"]}}], None),
])
def test_an_alarm_on_one_version_reads_that_versions_own_series(dimensions: list[dict[str, Any]], version: str | None) -> None:
    (definition,) = template_alarms(alarm(**{**CANARY_ALARM, "Dimensions": dimensions}), FUNCTIONS).definitions
    assert (definition.function, definition.version) == ("Fn", version)
    assert definition.series == ("Fn" if version is None else f"Fn:{version}")


def test_a_parameters_threshold_is_read() -> None:
    properties = {**CANARY_ALARM, "Threshold": {"Ref": "MaxErrors"}}
    (definition,) = template_alarms(alarm(**properties), FUNCTIONS, {"MaxErrors": "5"}).definitions
    assert definition.threshold == 5.0


@pytest.mark.parametrize(("change", "why"), [
    ({"Metrics": [{"Id": "m1", "Expression": "errors / invocations"}]}, "metric math"),
    ({"Namespace": "AWS/SQS", "MetricName": "ApproximateAgeOfOldestMessage"}, "another service's namespace"),
    ({"MetricName": "IteratorAge"}, "is not a metric lambdatop records"),
    ({"Dimensions": [{"Name": "FunctionName", "Value": "someone-elses-fn"}]}, "names no function of this template"),
    ({"ComparisonOperator": None}, "it has no ComparisonOperator"),
    ({"Threshold": {"Ref": "NotAParameter"}}, "it has no Threshold"),
    ({"ExtendedStatistic": "p1000"}, "p1000"),
])
def test_what_cannot_be_evaluated_is_skipped_saying_why(change: dict[str, Any], why: str) -> None:
    properties = {k: v for k, v in {**CANARY_ALARM, **change}.items() if v is not None}
    found = template_alarms(alarm(**properties), FUNCTIONS)
    assert found.definitions == []
    (warning,) = found.warnings
    assert warning.startswith("alarm TheAlarm is not evaluated: ") and why in warning


# test_versions_shifting's function, watching a template alarm instead of a lambdatop.yaml rule.
TEMPLATE = SHIFTING_TEMPLATE.replace("Alarms: [fn-errors]", "Alarms: [!Ref CanaryErrors]") + """\
  CanaryErrors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions:
        - {Name: Resource, Value: !Sub "${Fn}:live"}
        - {Name: FunctionName, Value: !Ref Fn}
      Statistic: Sum
      Period: 1
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
"""


@contextlib.asynccontextmanager
async def _watched(root: Path) -> AsyncIterator[Watched]:
    (root / "fn").mkdir()
    (root / "fn" / "app.py").write_text(GOOD % "one")
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "lambdatop.yaml").write_text(textwrap.dedent("""\
        template: template.yaml
        deployments: {time_scale: 0.05}
        alarms: {defaults: false}
    """))
    fleet = Fleet(root / "lambdatop.yaml")
    fleet.add_service(ObservabilityService())
    reload = ReloadService()
    fleet.add_service(reload)
    subscription = fleet.subscribe("test-template-alarms")
    async with fleet:
        watched = Watched(fleet, reload, subscription)
        await watched.settle()
        yield watched
    assert not alive(lambdatop_processes()), "a worker or zygote outlived the fleet"


async def test_a_canary_watching_a_template_alarm_rolls_back_when_it_fires(tmp_path: Path) -> None:
    async with _watched(tmp_path) as watched:
        fleet = watched.fleet
        assert fleet.alarm_state("CanaryErrors") in ("OK", "INSUFFICIENT_DATA")
        watched.forget()
        (tmp_path / "fn" / "app.py").write_text(BROKEN)
        await deployment_event(watched, "shifting to version 2")
        failed = await fleet.invoke("Fn:2", {})
        assert failed.record.error_type == "ValueError"
        rolled = await deployment_event(watched, "rolled back")
        assert (rolled.detail["state"], rolled.detail["reason"]) == ("rolled_back", "alarm CanaryErrors is in ALARM")
        assert fleet.versions.of("Fn").aliases["live"].function_version == "1"


async def test_a_canary_rolls_back_on_an_alarm_that_fired_and_cleared_between_two_polls(tmp_path: Path) -> None:
    # A busy loop's late tick judges two one-second periods at once, the error's (ALARM) and the next (OK):
    # the shifter, polling in between, never sees ALARM as the state, and must roll back all the same.
    async with _watched(tmp_path) as watched:
        fleet = watched.fleet
        observability = next(s for s in fleet.services if isinstance(s, ObservabilityService))
        watched.forget()
        (tmp_path / "fn" / "app.py").write_text(BROKEN)
        await deployment_event(watched, "shifting to version 2")
        assert (await fleet.invoke("Fn:2", {})).record.error_type == "ValueError"
        observability.alarms.evaluate(observability.metrics, time.time() + 3)  # judges the next second too
        alarm = observability.alarms.alarms["CanaryErrors"]
        assert alarm.state is AlarmState.OK and AlarmState.ALARM in [t.new for t in alarm.history]
        rolled = await deployment_event(watched, "rolled back", timeout=10)
        assert rolled.detail["reason"] == "alarm CanaryErrors is in ALARM"
        assert fleet.versions.of("Fn").aliases["live"].function_version == "1"


async def test_an_executed_version_alarm_counts_that_versions_errors_only(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(
        "import os\ndef handler(event, context):\n    if event.get('fail'):\n        raise ValueError('no')\n    return 1\n")
    (tmp_path / "lambdatop.yaml").write_text(textwrap.dedent("""\
        functions:
          fn: {handler: app.handler, alias: live}
        alarms:
          defaults: false
          rules:
            - {name: v1-errors, function: fn, version: 1, metric: Errors, period: 1, threshold: 0, treat_missing_data: notBreaching}
            - {name: all-errors, function: fn, metric: Errors, period: 1, threshold: 0, treat_missing_data: notBreaching}
    """))
    fleet = Fleet(tmp_path / "lambdatop.yaml")
    observability = ObservabilityService()
    fleet.add_service(observability)

    async def fired(alarm: str, since: float) -> None:
        deadline = time.monotonic() + 15
        while not fleet.alarm_fired_since(alarm, since):  # not the state alone: it may be OK again by now
            assert time.monotonic() < deadline, f"{alarm} never fired: {observability.alarms.alarms[alarm].reason}"
            await asyncio.sleep(0.05)

    async with fleet:
        began = time.time()
        assert (await fleet.invoke("fn", {"fail": True})).record.error_type == "ValueError"  # $LATEST's error
        assert (await fleet.invoke("fn:1", {})).record.status is InvocationStatus.SUCCESS
        await fired("all-errors", began)
        assert not fleet.alarm_fired_since("v1-errors", began)  # version 1 had none
        began = time.time()
        assert (await fleet.invoke("fn:1", {"fail": True})).record.error_type == "ValueError"
        await fired("v1-errors", began)
        view = next(a for a in observability.alarms.snapshot().alarms if a.name == "v1-errors")
        assert view.function == "fn" and view.description.endswith("of version 1")
