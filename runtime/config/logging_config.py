"""A function's LoggingConfig (Lambda's advanced logging controls), read from SAM or lambdatop.yaml.

    LoggingConfig: {LogFormat: JSON|Text, ApplicationLogLevel, SystemLogLevel, LogGroup}   # SAM / CloudFormation
    logging: {format, application_log_level, system_log_level, log_group}                   # lambdatop.yaml

As Lambda validates it (botocore's `LoggingConfig` shape): the levels need
the JSON format, and with JSON both default to INFO. The environment gets
AWS_LAMBDA_LOG_FORMAT / AWS_LAMBDA_LOG_LEVEL only with JSON, which the
runtime reads (awslambdaric bootstrap.py), and a LogGroup becomes
AWS_LAMBDA_LOG_GROUP_NAME. Imports nothing of the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

APPLICATION_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LEVELS = ("DEBUG", "INFO", "WARN")
SAM_KEYS = {"LogFormat": "format", "ApplicationLogLevel": "application_log_level",
            "SystemLogLevel": "system_log_level", "LogGroup": "log_group"}
YAML_KEYS = {value: value for value in SAM_KEYS.values()}


@dataclass(frozen=True)
class LoggingConfig:
    log_format: str = "Text"
    application_log_level: str | None = None  # set (INFO by default) only with JSON
    system_log_level: str | None = None
    log_group: str | None = None

    @property
    def json(self) -> bool:
        return self.log_format == "JSON"

    def environment(self) -> dict[str, str]:
        """The variables the runtime reads for this configuration."""
        environ = {}
        if self.json:
            environ["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            environ["AWS_LAMBDA_LOG_LEVEL"] = self.application_log_level or "INFO"
        return environ

    def as_api(self, default_group: str) -> dict[str, str]:
        """GetFunctionConfiguration's `LoggingConfig`."""
        shape = {"LogFormat": self.log_format}
        if self.json:
            shape["ApplicationLogLevel"] = self.application_log_level or "INFO"
            shape["SystemLogLevel"] = self.system_log_level or "INFO"
        shape["LogGroup"] = self.log_group or default_group
        return shape


def merge_globals(globals_value: Any, own: Any) -> Any:
    """SAM merges a map property of Globals key by key with the function's own."""
    if isinstance(globals_value, Mapping) and isinstance(own, Mapping):
        return {**globals_value, **own}
    return own if own is not None else globals_value


def read_logging_config(value: Any, keys: Mapping[str, str]) -> LoggingConfig:
    """A LoggingConfig from its mapping; `keys` names its fields (SAM_KEYS or YAML_KEYS).

    Raises ValueError with what is wrong; the caller's checker adds file, line and key.
    """
    if value is None:
        return LoggingConfig()
    fail = ValueError
    if not isinstance(value, Mapping):
        raise fail("must be a mapping")
    unknown = sorted(str(k) for k in value if k not in keys)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)}; expected {', '.join(keys)}")
    fields = {keys[k]: str(v) for k, v in value.items() if v is not None}
    log_format = fields.get("format", "Text")
    if log_format not in ("JSON", "Text"):
        raise fail(f"LogFormat must be JSON or Text, got {log_format!r}")
    app, system = fields.get("application_log_level"), fields.get("system_log_level")
    if app is not None and app not in APPLICATION_LEVELS:
        raise fail(f"ApplicationLogLevel must be one of {', '.join(APPLICATION_LEVELS)}, got {app!r}")
    if system is not None and system not in SYSTEM_LEVELS:
        raise fail(f"SystemLogLevel must be one of {', '.join(SYSTEM_LEVELS)}, got {system!r}")
    if (app or system) and log_format != "JSON":
        # Lambda's own refusal (InvalidParameterValueException): log-level filtering needs the JSON format.
        raise fail("ApplicationLogLevel and SystemLogLevel need LogFormat: JSON")
    return LoggingConfig(log_format, app, system, fields.get("log_group"))
