"""A SAM template's `AWS::CloudWatch::Alarm`s, as alarms lambdatop evaluates.

What a canary deploy watches: `DeploymentPreference.Alarms: [!Ref ErrorsAlarm]` names alarms of the
template, on Lambda's metrics (`AWS/Lambda` Errors, Throttles, Duration...) of one function, or on a
custom metric the function publishes in EMF (`Namespace/Name`). Each becomes an `AlarmDefinition`
named by its logical id (what `!Ref` of it reads as here; `AlarmName` is kept in the description).

Which series: a published version's own (`FN:2`, metrics.py) when the dimensions name a version, as
`ExecutedVersion: "2"` or `Resource: FN:2` do; else the function's, for `FunctionName` and for an
alias (`Resource: FN:live`; lambdatop keeps no series per alias) or a version it cannot read
(`ExecutedVersion: !GetAtt FnAliaslive.FunctionVersion`): a canary's errors count either way, which is
what its alarm is for. Alarms this cannot evaluate (metric math, another service's namespace, no
function it can name) are skipped with a warning saying why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdatop.runtime.observability.alarms import FLEET, AlarmDefinition, Comparison, MissingData

ALARM_TYPE = "AWS::CloudWatch::Alarm"
_FUNCTION_DIMENSIONS = ("FunctionName", "Resource", "ExecutedVersion")
_SUB = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}")
# Lambda's own metrics by the names CloudWatch gives them (metrics.STANDARD_METRICS has them and lambdatop's own).
_LAMBDA_METRICS = {"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions", "AsyncEventAge"}


@dataclass(slots=True)
class TemplateAlarms:
    definitions: list[AlarmDefinition] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def template_alarms(template: Mapping[str, Any] | None, functions: Mapping[str, Iterable[str]],
                    parameters: Mapping[str, Any] | None = None) -> TemplateAlarms:
    """The template's alarms lambdatop can evaluate; `functions`: logical id -> every name it goes by."""
    found = TemplateAlarms()
    resources = (template or {}).get("Resources") or {}
    if not isinstance(resources, Mapping):
        return found
    for logical_id, resource in resources.items():
        if not isinstance(resource, Mapping) or resource.get("Type") != ALARM_TYPE:
            continue
        properties = resource.get("Properties") or {}
        try:
            found.definitions.append(_definition(str(logical_id), properties, functions, parameters or {}))
        except _Skipped as skipped:
            found.warnings.append(f"alarm {logical_id} is not evaluated: {skipped}")
    return found


class _Skipped(Exception):
    """Why one template alarm cannot be evaluated here."""


def _definition(logical_id: str, properties: Mapping[str, Any], functions: Mapping[str, Iterable[str]],
                parameters: Mapping[str, Any]) -> AlarmDefinition:
    if "Metrics" in properties:
        raise _Skipped("metric math (Metrics) is not supported; use MetricName with Namespace")
    metric, namespace = _plain(properties.get("MetricName"), parameters), _plain(properties.get("Namespace"), parameters)
    if not metric:
        raise _Skipped("it has no MetricName")
    if namespace == "AWS/Lambda":
        if metric not in _LAMBDA_METRICS:
            raise _Skipped(f"AWS/Lambda {metric} is not a metric lambdatop records "
                           f"({', '.join(sorted(_LAMBDA_METRICS))} are)")
    elif namespace and namespace.startswith("AWS/"):
        raise _Skipped(f"{namespace} is another service's namespace")
    elif namespace:
        metric = f"{namespace}/{metric}"  # a custom metric the function publishes in EMF
    else:
        raise _Skipped("it has no Namespace")
    function, version = _function(properties.get("Dimensions") or [], functions, parameters)
    statistic = _plain(properties.get("ExtendedStatistic"), parameters) or _plain(properties.get("Statistic"), parameters) or "Average"
    name = _plain(properties.get("AlarmName"), parameters)
    description = _plain(properties.get("AlarmDescription"), parameters) or ""
    try:
        evaluation_periods = int(_number(properties, "EvaluationPeriods", parameters, 1))
        return AlarmDefinition(
            name=logical_id, metric=metric, function=function, version=version, statistic=statistic,
            period=int(_number(properties, "Period", parameters, 60)), evaluation_periods=evaluation_periods,
            datapoints_to_alarm=int(_number(properties, "DatapointsToAlarm", parameters, evaluation_periods)),
            threshold=_number(properties, "Threshold", parameters, None),
            comparison=Comparison.parse(_required(properties, "ComparisonOperator", parameters)),
            treat_missing_data=MissingData(_plain(properties.get("TreatMissingData"), parameters) or "missing"),
            description=(f"{name}: " if name and name != logical_id else "") + description,
        )
    except ValueError as exc:  # an unknown statistic or comparison, a bad period
        raise _Skipped(str(exc)) from exc


def _function(dimensions: Any, functions: Mapping[str, Iterable[str]], parameters: Mapping[str, Any]) -> tuple[str, str | None]:
    """The function the alarm's dimensions name (FLEET for none: an account-wide Lambda metric), and the
    published version they name, if any."""
    if not isinstance(dimensions, list):
        raise _Skipped("Dimensions must be a list")
    named = None
    version = None
    for dimension in dimensions:
        if not isinstance(dimension, Mapping) or dimension.get("Name") not in _FUNCTION_DIMENSIONS:
            continue
        value = _value(dimension.get("Value"), parameters)
        if dimension.get("Name") == "ExecutedVersion":  # a version, never a function
            version = value if value and value.isdigit() else version
            continue
        target = _function_named(value.split(":")[0] if value else None, functions)
        if target is None:
            raise _Skipped(f"its {dimension.get('Name')} dimension ({value or dimension.get('Value')!r}) "
                           "names no function of this template")
        named = named or target
        qualifier = value.split(":", 1)[1] if value and ":" in value else ""
        version = qualifier if qualifier.isdigit() else version
    return (FLEET, None) if named is None else (named, version)


def _value(value: Any, parameters: Mapping[str, Any]) -> str | None:
    """A dimension's value with `!Ref` and `!Sub` of the template's functions and parameters read."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "Ref" in value:
        ref = str(value["Ref"])
        if ref in parameters:
            return str(parameters[ref])
        return ref.split(".")[0]
    if isinstance(value, Mapping) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return _SUB.sub(lambda m: str(parameters.get(m.group(1), m.group(1))), value["Fn::Sub"])
    return None


def _function_named(name: str | None, functions: Mapping[str, Iterable[str]]) -> str | None:
    if not name:
        return None
    for logical_id, names in functions.items():
        # `!Ref FnAliaslive` (the alias SAM generates) names its function too.
        if name == logical_id or name in names or (name.startswith(logical_id + "Alias")):
            return logical_id
    return None


def _plain(value: Any, parameters: Mapping[str, Any]) -> str | None:
    if isinstance(value, Mapping) and "Ref" in value and str(value["Ref"]) in parameters:
        return str(parameters[str(value["Ref"])])
    return None if value is None or isinstance(value, Mapping | list) else str(value)


def _required(properties: Mapping[str, Any], key: str, parameters: Mapping[str, Any]) -> str:
    text = _plain(properties.get(key), parameters)
    if text is None:
        raise _Skipped(f"it has no {key}")
    return text


def _number(properties: Mapping[str, Any], key: str, parameters: Mapping[str, Any], default: float | None) -> float:
    text = _plain(properties.get(key), parameters)
    if text is None:
        if default is None:
            raise _Skipped(f"it has no {key}")
        return default
    try:
        return float(text)
    except ValueError:
        raise _Skipped(f"{key} {text!r} is not a number") from None
