"""The fleet's configuration: from a SAM `template.yaml` or our own `lambdatop.yaml`.

Both load into the same `FleetConfig`. Validation follows Lambda's limits and
every error names the file, the line, the function and the key, so a typo is
found by reading one message.
"""

from __future__ import annotations

from pathlib import Path

from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.config.checker import Checker, check_known_keys, check_reserved
from lambdatop.runtime.config.lambdatop_file import LambdatopFile
from lambdatop.runtime.config.model import (
    DEFAULT_ACCOUNT_CONCURRENCY, DEFAULT_ACCOUNT_ID, DEFAULT_IDLE_TIMEOUT_S, DEFAULT_MEMORY_MB, DEFAULT_REGION,
    DEFAULT_TIMEOUT_S, MEMORY_RANGE, TIMEOUT_RANGE, UNRESERVED_MINIMUM, CannotRun, FleetConfig, FunctionConfig, LayerContent, ResourceValues, TemplateInputs,
)
from lambdatop.runtime.config.env_vars import apply_env_vars
from lambdatop.runtime.config.sam_template import SamTemplate
from lambdatop.runtime.config.yamlfile import LineMap, load_yaml

# The records and checks live in model.py and checker.py; they are re-exported here, where the rest of
# the runtime has always imported them from.
__all__ = [
    "CONFIG_CANDIDATES", "DEFAULT_ACCOUNT_CONCURRENCY", "DEFAULT_ACCOUNT_ID", "DEFAULT_IDLE_TIMEOUT_S",
    "DEFAULT_MEMORY_MB", "DEFAULT_REGION", "DEFAULT_TIMEOUT_S", "MEMORY_RANGE", "TIMEOUT_RANGE",
    "UNRESERVED_MINIMUM", "CannotRun", "Checker", "FleetConfig", "LayerContent", "TemplateInputs", "FunctionConfig", "ResourceValues", "check_known_keys",
    "check_reserved", "find_config", "load_config",
]

# Looked for in this order in the working directory; the last is the repo's own samples.
CONFIG_CANDIDATES = ("lambdatop.yaml", "lambdatop.yml", "template.yaml", "template.yml", "sample_functions/template.yaml")


def find_config(start: Path | None = None) -> Path:
    """The config file lambdatop uses when none is named."""
    base = start or Path.cwd()
    for candidate in CONFIG_CANDIDATES:
        path = base / candidate
        if path.is_file():
            return path
    raise ConfigError(f"no {', '.join(CONFIG_CANDIDATES[:4])} here; name one with --config", path=str(base))


def load_config(path: Path | str | None = None, *, resources: ResourceValues | None = None,
                inputs: TemplateInputs | None = None) -> FleetConfig:
    """Load and validate a lambdatop.yaml or a SAM template.

    `resources`: the local resources' names, once created; `inputs`: the command line's
    `--parameter-overrides` and `--env-vars` (a reload passes the loaded config's `inputs` again).
    """
    config_path = Path(path) if path else find_config()
    config_path = config_path.resolve()
    document = load_yaml(config_path)
    if not isinstance(document, LineMap):
        raise ConfigError("expected a mapping at the top of the file", path=str(config_path))
    if "Resources" in document or "AWSTemplateFormatVersion" in document or "Transform" in document:
        config = SamTemplate(config_path, document, resources=resources, inputs=inputs).load()
    else:
        config = LambdatopFile(config_path, document, resources=resources, inputs=inputs).load()
    config = apply_env_vars(config)
    _check_sections(config)
    return config


def _check_sections(config: FleetConfig) -> None:
    """The capabilities' sections (`store:`, `async:`, `http:`, `reload:`) and each function's
    EventInvokeConfig / DeadLetterQueue, checked at load time, so a typo fails every command alike."""
    from lambdatop.runtime.config.async_settings import AsyncSettings, QueueSettings
    from lambdatop.runtime.config.http_settings import HttpSettings
    from lambdatop.runtime.config.reload_settings import ReloadSettings
    from lambdatop.runtime.config.store_settings import StoreSettings
    from lambdatop.runtime.config.api_settings import ApiSettings
    from lambdatop.runtime.config.aws_settings import AwsSettings

    for settings in (StoreSettings, QueueSettings, HttpSettings, ReloadSettings, ApiSettings, AwsSettings):
        settings.from_config(config)
    for function in config.functions.values():
        AsyncSettings.of(function)
    from lambdatop.runtime.config.schedules import read_schedules

    read_schedules(config)  # Schedule / ScheduleV2 events and scheduled rules, with the line of a bad expression

