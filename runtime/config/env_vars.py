"""SAM CLI's `--env-vars FILE.json`: environment variable values laid over the template's.

The format is SAM CLI's: `{"FunctionLogicalId": {"VAR": "value"}, "Parameters":
{"VAR": "value"}}`, where `Parameters` applies to every function and a
function's own entry wins. As in SAM CLI, only variables the function declares
(its `Environment.Variables`, Globals included) are overridden; the others are
named in a warning instead of being dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.config.model import FleetConfig, FunctionConfig

ALL_FUNCTIONS = "Parameters"


def read_env_vars(path: str) -> dict[str, dict[str, str]]:
    """The file's content, checked: an object of objects of scalars (values become strings, as SAM CLI makes them)."""
    try:
        document: Any = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"--env-vars: cannot read the file: {exc.strerror}", path=path) from None
    except ValueError as exc:
        raise ConfigError(f"--env-vars: not valid JSON: {exc}", path=path) from None
    if not isinstance(document, dict):
        raise ConfigError('--env-vars: expected an object like {"MyFunction": {"VAR": "value"}}', path=path)
    result: dict[str, dict[str, str]] = {}
    for target, variables in document.items():
        if not isinstance(variables, dict):
            raise ConfigError(f"--env-vars: {target!r} must map variable names to values", path=path, key=str(target))
        for name, value in variables.items():
            if isinstance(value, (dict, list)):
                raise ConfigError(f"--env-vars: {target}.{name} must be a string, number or boolean", path=path,
                                  key=f"{target}.{name}")
        result[str(target)] = {str(k): _text(v) for k, v in variables.items()}
    return result


def apply_env_vars(config: FleetConfig) -> FleetConfig:
    """The config with `config.inputs.env_vars` applied; unknown functions and undeclared variables warned about."""
    values = config.inputs.env_vars
    if not values:
        return config
    source = config.inputs.env_vars_file or "--env-vars"
    warnings = list(config.warnings)
    known = {name for function in config.functions.values() for name in function.names}
    for target in values:
        if target != ALL_FUNCTIONS and target not in known:
            warnings.append(f"{source}: {target!r} is not a function of {config.path.name}; its variables are ignored")
    functions = {name: _applied(function, values, source, warnings) for name, function in config.functions.items()}
    return replace(config, functions=functions, warnings=tuple(warnings))


def _applied(function: FunctionConfig, values: Mapping[str, Mapping[str, str]], source: str, warnings: list[str]) -> FunctionConfig:
    wanted = dict(values.get(ALL_FUNCTIONS, {}))
    for name in function.names:
        wanted.update(values.get(name, {}))
    own = {key for name in function.names for key in values.get(name, {})}
    environment = dict(function.environment)
    ignored = []
    for key, value in wanted.items():
        if key in environment:
            environment[key] = value
        elif key in own:
            ignored.append(key)
    if ignored:
        warnings.append(f"{source}: function {function.name!r} does not declare {', '.join(sorted(ignored))} in "
                        "Environment.Variables; as in SAM CLI, only declared variables are overridden")
    return replace(function, environment=environment) if environment != function.environment else function


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)
