"""The `reload:` section of lambdatop.yaml: how hot reload watches and debounces.

Its own module so that loading a config can validate it without importing
the watcher itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from lambdatop.runtime.config.loading import FleetConfig, check_known_keys
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.config.yamlfile import line_of

DEFAULT_DEBOUNCE_MS = 0  # no fixed wait: reload.settle tells when a save is over


@dataclass(frozen=True, slots=True)
class ReloadSettings:
    """The `reload:` section of lambdatop.yaml."""

    enabled: bool = True
    debounce_ms: int = DEFAULT_DEBOUNCE_MS  # a fixed quiet time after the last change, on top of settling
    poll: bool = False  # poll instead of inotify (network or container mounts that send no events)
    ignore: tuple[str, ...] = ()  # glob patterns of files that are not code ("*.log", "data/*")

    @classmethod
    def from_config(cls, config: FleetConfig) -> ReloadSettings:
        """Read and validate the section; errors name the file, key and line."""
        section = config.sections.get("reload")
        if section is None:
            return cls()
        where = str(config.path)
        if not isinstance(section, dict):
            raise ConfigError(f"must be a mapping, got {type(section).__name__}", path=where, key="reload")

        def fail(key: str, message: str) -> ConfigError:
            return ConfigError(message, path=where, line=line_of(section, key), key=f"reload.{key}")

        known = {f.name for f in dataclasses.fields(cls)} | {"debounce"}
        check_known_keys(section, known, section="reload", path=where, key_prefix="reload.")
        values: dict[str, Any] = {}
        for key in ("enabled", "poll"):
            if key in section:
                if not isinstance(section[key], bool):
                    raise fail(key, f"must be true or false, got {section[key]!r}")
                values[key] = section[key]
        for key in ("debounce_ms", "debounce"):
            if key in section:
                value = section[key]
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 60_000:
                    raise fail(key, f"must be a whole number of milliseconds from 0 to 60000, got {value!r}")
                values["debounce_ms"] = value
        if "ignore" in section:
            patterns = section["ignore"]
            if isinstance(patterns, str):
                patterns = [patterns]
            if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
                raise fail("ignore", "must be a list of glob patterns")
            values["ignore"] = tuple(patterns)
        return cls(**values)
