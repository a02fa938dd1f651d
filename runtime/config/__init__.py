"""What the user wrote, validated: the fleet's configuration from a SAM `template.yaml` or a `lambdatop.yaml`.

The readers (SAM and lambdatop.yaml), CloudFormation intrinsics, line-aware
YAML and every settings section (store, async, http, reload). Every error
names the file, the line, the function and the key.

May import: `lambdatop.runtime.errors` only (and itself). Everything else in
the runtime reads the config; the config reads nobody.
"""

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
