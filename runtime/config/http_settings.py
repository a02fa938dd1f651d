"""The `http:` section of lambdatop.yaml: where the Lambda endpoint listens.

    http:
      host: 127.0.0.1      # default; anything not loopback also needs allow_remote
      port: 3001           # default (SAM's); 0 picks a free port
      allow_remote: false
      enabled: true        # false (or `http: false`) runs without the endpoint

Command-line flags win over the file; the file wins over the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from lambdatop.runtime.config.loading import FleetConfig, check_known_keys
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.config.yamlfile import line_of

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3001  # the port `sam local start-lambda` uses
_KEYS = ("enabled", "host", "port", "allow_remote")


@dataclass(frozen=True)
class HttpSettings:
    enabled: bool = True
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allow_remote: bool = False

    @classmethod
    def from_config(cls, config: FleetConfig) -> HttpSettings:
        section = config.sections.get("http")
        where = str(config.path)
        if section is None:
            return cls()
        if isinstance(section, bool):
            return cls(enabled=section)
        if not isinstance(section, Mapping):
            raise ConfigError(f"must be a mapping ({', '.join(_KEYS)}) or true/false", path=where, key="http")
        check_known_keys(section, _KEYS, section="http", path=where, key_prefix="http.")

        def flag(key: str, default: bool) -> bool:
            value = section.get(key, default)
            if not isinstance(value, bool):
                raise ConfigError(f"must be true or false, got {value!r}", path=where, key=f"http.{key}", line=line_of(section, key))
            return value

        port = section.get("port", DEFAULT_PORT)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError(f"must be a port number from 0 to 65535 (0 picks a free port), got {port!r}", path=where,
                              key="http.port", line=line_of(section, "port"))
        host = section.get("host", DEFAULT_HOST)
        if not isinstance(host, str) or not host.strip():
            raise ConfigError(f"must be a host name or address, got {host!r}", path=where, key="http.host", line=line_of(section, "host"))
        return cls(enabled=flag("enabled", True), host=host.strip(), port=port, allow_remote=flag("allow_remote", False))

    def overridden(self, *, host: str | None = None, port: int | None = None, allow_remote: bool | None = None) -> HttpSettings:
        """These settings with whatever the command line gave explicitly (None = not given)."""
        changes: dict[str, Any] = {}
        if host is not None:
            changes["host"] = host
        if port is not None:
            changes["port"] = port
            changes["enabled"] = True  # asking for a port asks for the endpoint
        if allow_remote:
            changes["allow_remote"] = True
        return replace(self, **changes)

