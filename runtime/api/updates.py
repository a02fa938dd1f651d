"""The write calls of Lambda's API that make sense locally, applied to the running fleet at once.

    PutFunctionConcurrency / DeleteFunctionConcurrency   reserved concurrency; the gate honours it from the next call
    UpdateFunctionConfiguration                          MemorySize, Timeout, Environment, Description
    Put/Update/DeleteFunctionEventInvokeConfig           the async settings the queue applies from the next delivery

A change to what an environment is built from (memory, timeout, environment)
works as a reload does: new environments use the new configuration, warm ones
retire once idle. Each change is announced on the bus ("config updated via
API"), so the dashboard shows it. It lasts until the template itself changes
the function (a reload reads the file again). Other fields are refused with a
message naming them: lambdatop runs the code and runtime the template says.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.config import FunctionConfig
from lambdatop.runtime.config.async_settings import AsyncSettings
from lambdatop.runtime.config.loading import UNRESERVED_MINIMUM
from lambdatop.runtime.errors import ConfigError, InvalidParameterValue

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet


ENVIRONMENT_LIMIT = 4096  # bytes of all variables' names and values
UPDATABLE = ("MemorySize", "Timeout", "Environment", "Description")
# Names Lambda sets itself and refuses in UpdateFunctionConfiguration.
RESERVED_VARIABLES = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
_EVENT_INVOKE_KEYS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


class FunctionUpdates:
    """Applies API writes to a fleet; remembers when each function was last changed this way (LastModified)."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.updated_at: dict[str, float] = {}

    # -- reserved concurrency ---------------------------------------------------------

    def put_concurrency(self, function: FunctionConfig, body: dict[str, Any]) -> dict[str, Any]:
        value = body.get("ReservedConcurrentExecutions")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidParameterValue(f"ReservedConcurrentExecutions must be a whole number from 0, got {value!r}")
        others = sum(f.reserved_concurrency or 0 for f in self.fleet.functions.values() if f.name != function.name)
        limit = self.fleet.config.account_concurrency
        if others + value > limit - UNRESERVED_MINIMUM:
            raise InvalidParameterValue(
                f"Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
                f"below its minimum value of [{UNRESERVED_MINIMUM}]."
            )
        self._apply(function, dataclasses.replace(function, reserved_concurrency=value), recycle=False,
                    what=f"reserved concurrency {value}" + (" (every invocation is throttled)" if value == 0 else ""))
        return {"ReservedConcurrentExecutions": value}

    def delete_concurrency(self, function: FunctionConfig) -> None:
        self._apply(function, dataclasses.replace(function, reserved_concurrency=None), recycle=False,
                    what="reserved concurrency removed (it shares the account's unreserved pool)")

    # -- configuration ----------------------------------------------------------------

    def update_configuration(self, function: FunctionConfig, body: dict[str, Any]) -> FunctionConfig:
        refused = sorted(k for k, v in body.items() if k not in UPDATABLE and k != "RevisionId" and v not in (None, {}, []))
        if refused:
            raise InvalidParameterValue(
                f"lambdatop cannot change {', '.join(refused)} through the API (it can change {', '.join(UPDATABLE)}): "
                f"edit the template instead, lambdatop reloads it live"
            )
        changes: dict[str, Any] = {}
        if body.get("MemorySize") is not None:
            changes["memory_size"] = _bounded(body["MemorySize"], "MemorySize", 128, 10240)
        if body.get("Timeout") is not None:
            changes["timeout"] = _bounded(body["Timeout"], "Timeout", 1, 900)
        if body.get("Description") is not None:
            changes["description"] = str(body["Description"])
        if body.get("Environment") is not None:
            changes["environment"] = _variables(body["Environment"])
        if not changes:
            return function
        updated = dataclasses.replace(function, **changes)
        shown = ", ".join(_describe(key, value) for key, value in changes.items())
        self._apply(function, updated, recycle=updated.fingerprint() != function.fingerprint(), what=shown)
        return updated

    # -- asynchronous invocation settings --------------------------------------------

    def put_event_invoke_config(self, function: FunctionConfig, body: dict[str, Any], *, merge: bool) -> FunctionConfig:
        """Put replaces the whole EventInvokeConfig, Update changes only the fields given (Lambda's semantics)."""
        given = {k: body[k] for k in _EVENT_INVOKE_KEYS if body.get(k) is not None}
        raw = {**(function.event_invoke_config or {}), **given} if merge else given
        if "DestinationConfig" in raw:
            raw["DestinationConfig"] = {k: v for k, v in raw["DestinationConfig"].items() if v}
        updated = dataclasses.replace(function, event_invoke_config=raw)
        try:
            AsyncSettings.of(updated)
        except ConfigError as exc:
            raise InvalidParameterValue(exc.message if exc.key is None else f"{exc.key} {exc.message}") from None
        self._apply(function, updated, recycle=False, what="asynchronous invocation settings")
        return updated

    def delete_event_invoke_config(self, function: FunctionConfig) -> None:
        self._apply(function, dataclasses.replace(function, event_invoke_config={}), recycle=False,
                    what="asynchronous invocation settings removed (Lambda's defaults: 2 retries, 6 hours)")

    # -- internals --------------------------------------------------------------------

    def _apply(self, old: FunctionConfig, new: FunctionConfig, *, recycle: bool, what: str) -> None:
        self.fleet.update_function(new, recycle=recycle)
        now = time.time()
        self.updated_at[new.name] = now
        then = "; new environments use it, warm ones retire when idle" if recycle else ""
        self.fleet.bus.publish(FleetEvent("config", f"{new.name}: config updated via API: {what}{then}", now,
                                          function=new.name, detail={"source": "api", "recycled": recycle}))


def _bounded(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameterValue(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _variables(environment: Any) -> dict[str, str]:
    variables = environment.get("Variables") if isinstance(environment, dict) else None
    variables = variables or {}
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise InvalidParameterValue("Environment.Variables must map names to strings")
    reserved = sorted(k for k in variables if k in RESERVED_VARIABLES)
    if reserved:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            f"provided contains reserved keys that are currently not supported for modification. "
            f"Reserved keys used in this request: {','.join(reserved)}"
        )
    size = sum(len(k) + len(v) for k, v in variables.items())
    if size > ENVIRONMENT_LIMIT:
        raise InvalidParameterValue(
            f"Lambda was unable to configure your environment variables because the environment variables you have "
            f"provided exceeded the 4KB limit. String measured: {size}"
        )
    return {str(k): v for k, v in variables.items()}


def _describe(key: str, value: Any) -> str:
    if key == "memory_size":
        return f"MemorySize {value} MB"
    if key == "timeout":
        return f"Timeout {value} s"
    if key == "environment":
        return f"Environment ({len(value)} variable{'s' if len(value) != 1 else ''})"
    return "Description"
