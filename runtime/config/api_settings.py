"""The `api:` section of lambdatop.yaml: where the template's API routes answer.

    api:
      host: 127.0.0.1            # default; anything not loopback also needs http.allow_remote / --allow-remote
      port: 3000                 # default (SAM's `start-api`); 0 picks a free port
      enabled: true              # false (or `api: false`) runs without the API port
      integration_timeout: 29    # seconds; caps every route's TimeoutInMillis (504 past it)

Command-line flags (`--api-port`, `--no-api`) win over the file; the file wins over the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from lambdatop.runtime.config.loading import FleetConfig, check_known_keys
from lambdatop.runtime.errors import ConfigError

DEFAULT_API_HOST = "127.0.0.1"
DEFAULT_API_PORT = 3000  # the port `sam local start-api` uses
_KEYS = ("enabled", "host", "port", "integration_timeout")


@dataclass(frozen=True)
class ApiSettings:
    enabled: bool = True
    host: str = DEFAULT_API_HOST
    port: int = DEFAULT_API_PORT
    integration_timeout_s: float | None = None  # None: each route's TimeoutInMillis (29 s unless set)

    @classmethod
    def from_config(cls, config: FleetConfig) -> ApiSettings:
        section = config.sections.get("api")
        where = str(config.path)
        if section is None:
            return cls()
        if isinstance(section, bool):
            return cls(enabled=section)
        if not isinstance(section, Mapping):
            raise ConfigError(f"must be a mapping ({', '.join(_KEYS)}) or true/false", path=where, key="api")
        check_known_keys(section, _KEYS, section="api", path=where, key_prefix="api.")
        enabled = section.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"must be true or false, got {enabled!r}", path=where, key="api.enabled")
        port = section.get("port", DEFAULT_API_PORT)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError(f"must be a port number from 0 to 65535 (0 picks a free port), got {port!r}",
                              path=where, key="api.port")
        host = section.get("host", DEFAULT_API_HOST)
        if not isinstance(host, str) or not host.strip():
            raise ConfigError(f"must be a host name or address, got {host!r}", path=where, key="api.host")
        timeout = section.get("integration_timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ConfigError(f"must be a positive number of seconds, got {timeout!r}", path=where,
                              key="api.integration_timeout")
        return cls(enabled=enabled, host=host.strip(), port=port,
                   integration_timeout_s=float(timeout) if timeout is not None else None)

    def overridden(self, *, port: int | None = None, disabled: bool = False) -> ApiSettings:
        """These settings with what the command line gave (`--api-port`, `--no-api`)."""
        changes: dict[str, Any] = {}
        if port is not None:
            changes |= {"port": port, "enabled": True}
        if disabled:
            changes["enabled"] = False
        return replace(self, **changes)
