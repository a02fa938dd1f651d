"""A template's Parameters: their values (Default or `--parameter-overrides`), checked as CloudFormation checks them.

CloudFormation refuses a stack whose parameter has no value ("Parameters: [Stage]
must have values") or breaks its constraints (AllowedValues, AllowedPattern,
Min/MaxLength, Min/MaxValue, Type Number); lambdatop refuses the template the
same way, naming the parameter's line, instead of running with a placeholder.
Also parses SAM CLI's two spellings of an override (`Key=Value` and
`ParameterKey=Key,ParameterValue=Value`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.config.yamlfile import LineMap

_LONG_FORM = re.compile(r"^ParameterKey=(?P<key>[^,]*),ParameterValue=(?P<value>.*)$", re.DOTALL)
_LIST_TYPES = ("CommaDelimitedList", "List<")
_SSM_TYPES = ("AWS::SSM::Parameter::Value<",)


def parse_overrides(arguments: Iterable[str]) -> dict[str, str]:
    """`--parameter-overrides` values: each may hold several, space-separated (quoted values keep their spaces)."""
    overrides: dict[str, str] = {}
    for argument in arguments:
        try:
            tokens = shlex.split(argument)
        except ValueError as exc:
            raise ValueError(f"--parameter-overrides {argument!r}: {exc}") from None
        for token in tokens:
            long_form = _LONG_FORM.match(token)
            if long_form:
                key, value = long_form.group("key"), long_form.group("value")
            elif "=" in token:
                key, value = token.split("=", 1)
            else:
                raise ValueError(f"--parameter-overrides {token!r}: use Key=Value or ParameterKey=Key,ParameterValue=Value")
            if not key:
                raise ValueError(f"--parameter-overrides {token!r}: the parameter's name is empty")
            overrides[key] = value
    return overrides


def parameter_values(path: Path, declared: LineMap, overrides: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Each parameter's value (an override, else its Default), and warnings for overrides no parameter takes."""
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        line = declared.line_of(name)
        if name in overrides:
            value: Any = overrides[name]
        elif spec.get("Default") is not None:
            value = spec["Default"]
        else:
            raise ConfigError(f"Parameters: [{name}] must have values (it has no Default): pass "
                              f"--parameter-overrides {name}=VALUE", path=str(path), line=line, key=f"Parameters.{name}")
        text = _text(value)
        problem = constraint_problem(str(name), spec, text)
        if problem is not None:
            raise ConfigError(problem, path=str(path), line=line, key=f"Parameters.{name}")
        kind = str(spec.get("Type", "String"))
        if kind.startswith(_SSM_TYPES):
            # The value is what SSM holds under that name, which needs a deployed account: a placeholder.
            values[str(name)] = f"<SSM parameter {text}>"
            continue
        # `!Ref` of a list parameter is a list in CloudFormation (so `!Join` and `!Select` take it).
        values[str(name)] = [item.strip() for item in text.split(",")] if kind.startswith(_LIST_TYPES) else text
    unknown = [key for key in overrides if key not in declared]
    warnings = [f"{path}: --parameter-overrides {key}: the template has no parameter {key!r}; ignored" for key in unknown]
    return values, warnings


def constraint_problem(name: str, spec: Mapping[str, Any], value: str) -> str | None:
    """CloudFormation's complaint about `value` for parameter `name`, or None if it satisfies every constraint."""
    described = spec.get("ConstraintDescription")

    def broken(default: str) -> str:
        # With a ConstraintDescription, CloudFormation says that instead of naming the constraint.
        return f"Parameter '{name}' failed to satisfy constraint: {described}" if described else default

    kind = str(spec.get("Type", "String"))
    allowed = spec.get("AllowedValues")
    if kind.startswith(_LIST_TYPES):
        items = [item.strip() for item in value.split(",")]
    else:
        items = [value]
    if isinstance(allowed, list) and any(item not in [_text(a) for a in allowed] for item in items):
        return broken(f"Parameter '{name}' must be one of AllowedValues")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not all(re.fullmatch(str(pattern), item) for item in items):
        return broken(f"Parameter '{name}' must match pattern {pattern}")
    for limit, check, words in (("MinLength", lambda n: len(value) >= n, "at least"), ("MaxLength", lambda n: len(value) <= n, "at most")):
        if spec.get(limit) is not None and not check(int(spec[limit])):
            return broken(f"Parameter '{name}' must contain {words} {spec[limit]} characters")
    if kind == "Number" or spec.get("MinValue") is not None or spec.get("MaxValue") is not None:
        try:
            number = float(value)
        except ValueError:
            return f"Parameter '{name}' must be a number"
        if spec.get("MinValue") is not None and number < float(spec["MinValue"]):
            return broken(f"Parameter '{name}' must be a number not less than {spec['MinValue']}")
        if spec.get("MaxValue") is not None and number > float(spec["MaxValue"]):
            return broken(f"Parameter '{name}' must be a number not greater than {spec['MaxValue']}")
    return None


def _text(value: Any) -> str:
    """A YAML scalar as CloudFormation sees it: `true` is "true", a list Default is joined with commas."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    return str(value)
