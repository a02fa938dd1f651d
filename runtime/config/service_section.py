"""A service's section of lambdatop.yaml (`http:`, `api:`, `aws:`): a mapping, or just true/false.

Each listening service reads the same shape: `enabled`, a `port` (0 picks a
free one), often a `host`, plus keys of its own. One reader, so every section
refuses a typo, a bad port or a bad host with the same words and its line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lambdatop.runtime.config.loading import FleetConfig, check_known_keys
from lambdatop.runtime.config.yamlfile import line_of
from lambdatop.runtime.errors import ConfigError


class ServiceSection:
    """The mapping form of a section, with typed reads that point at the offending line."""

    def __init__(self, name: str, values: Mapping[str, Any], path: str) -> None:
        self.name = name
        self.values = values
        self.path = path

    @classmethod
    def read(cls, config: FleetConfig, name: str, keys: Iterable[str]) -> ServiceSection | bool | None:
        """The section: None when absent, a bool for `name: true/false`, else its checked mapping."""
        section = config.sections.get(name)
        path = str(config.path)
        if section is None or isinstance(section, bool):
            return section
        known = tuple(keys)
        if not isinstance(section, Mapping):
            raise ConfigError(f"must be a mapping ({', '.join(known)}) or true/false", path=path, key=name)
        check_known_keys(section, known, section=name, path=path, key_prefix=f"{name}.")
        return cls(name, section, path)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, path=self.path, key=f"{self.name}.{key}", line=line_of(self.values, key))

    def flag(self, key: str, default: bool) -> bool:
        value = self.values.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def port(self, default: int) -> int:
        port = self.values.get("port", default)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise self.error("port", f"must be a port number from 0 to 65535 (0 picks a free port), got {port!r}")
        return port

    def host(self, default: str) -> str:
        host = self.values.get("host", default)
        if not isinstance(host, str) or not host.strip():
            raise self.error("host", f"must be a host name or address, got {host!r}")
        return host.strip()
