"""lambdatop's engine: execution environments, the pool, the gate and the Fleet façade.

Nothing here imports Textual or Rich; the runtime is usable headless and as a library.
Names are imported lazily so the zygote, which imports `lambdatop.runtime.worker`,
stays small: it must never load the supervisor's modules.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Fleet": "fleet",
    "FleetConfig": "config",
    "FunctionConfig": "config",
    "load_config": "config",
    "ConfigError": "errors",
    "FunctionNotFound": "errors",
    "InvalidRequestContent": "errors",
    "LambdaServiceError": "errors",
    "RequestTooLarge": "errors",
    "Throttled": "errors",
    "InvocationRecord": "records",
    "InvocationResult": "records",
    "InvocationStatus": "records",
    "InvocationType": "records",
    "Trigger": "records",
}

__all__ = [
    "ConfigError", "Fleet", "FleetConfig", "FunctionConfig", "FunctionNotFound", "InvalidRequestContent",
    "InvocationRecord", "InvocationResult", "InvocationStatus", "InvocationType", "LambdaServiceError",
    "RequestTooLarge", "Throttled", "Trigger", "load_config",
]  # the names of _EXPORTS, spelt out so tools can read them


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"lambdatop.runtime.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'lambdatop.runtime' has no attribute {name!r}")
