"""What the user wrote, validated: the fleet's configuration from a SAM `template.yaml` or a `lambdatop.yaml`.

The readers (SAM and lambdatop.yaml), CloudFormation intrinsics, line-aware
YAML and every settings section (store, async, http, reload). Every error
names the file, the line, the function and the key.

May import: `lambdatop.runtime.errors` only (and itself). Everything else in
the runtime reads the config; the config reads nobody.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambdatop.runtime.config.loading import (
        CONFIG_CANDIDATES,
        DEFAULT_ACCOUNT_CONCURRENCY,
        DEFAULT_ACCOUNT_ID,
        DEFAULT_IDLE_TIMEOUT_S,
        DEFAULT_MEMORY_MB,
        DEFAULT_REGION,
        DEFAULT_TIMEOUT_S,
        MEMORY_RANGE,
        TIMEOUT_RANGE,
        UNRESERVED_MINIMUM,
        CannotRun,
        FleetConfig,
        FunctionConfig,
        LayerContent,
        ResourceValues,
        TemplateInputs,
        check_known_keys,
        check_reserved,
        find_config,
        load_config,
    )
    from lambdatop.runtime.config.http_settings import DEFAULT_HOST, DEFAULT_PORT, HttpSettings
    from lambdatop.runtime.config.store_settings import StoreSettings, store_path

# Loaded on first use (as `lambdatop.runtime` does), so importing a light part of the config, such as
# `ports` for the command line's help, does not read in the YAML and SAM template readers.
_EXPORTS = {
    **dict.fromkeys((
        "CONFIG_CANDIDATES", "DEFAULT_ACCOUNT_CONCURRENCY", "DEFAULT_ACCOUNT_ID", "DEFAULT_IDLE_TIMEOUT_S",
        "DEFAULT_MEMORY_MB", "DEFAULT_REGION", "DEFAULT_TIMEOUT_S", "MEMORY_RANGE", "TIMEOUT_RANGE", "UNRESERVED_MINIMUM",
        "CannotRun", "FleetConfig", "FunctionConfig", "LayerContent", "ResourceValues", "TemplateInputs",
        "check_known_keys", "check_reserved", "find_config", "load_config",
    ), "loading"),
    "DEFAULT_HOST": "ports", "DEFAULT_PORT": "ports", "HttpSettings": "http_settings",
    "StoreSettings": "store_settings", "store_path": "store_settings",
}

__all__ = [
    "CONFIG_CANDIDATES",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "HttpSettings",
    "StoreSettings",
    "store_path",
    "DEFAULT_ACCOUNT_CONCURRENCY",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_IDLE_TIMEOUT_S",
    "DEFAULT_MEMORY_MB",
    "DEFAULT_REGION",
    "DEFAULT_TIMEOUT_S",
    "MEMORY_RANGE",
    "TIMEOUT_RANGE",
    "UNRESERVED_MINIMUM",
    "CannotRun",
    "FleetConfig",
    "FunctionConfig",
    "LayerContent",
    "ResourceValues",
    "TemplateInputs",
    "check_known_keys",
    "check_reserved",
    "find_config",
    "load_config",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"lambdatop.runtime.config.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'lambdatop.runtime.config' has no attribute {name!r}")
