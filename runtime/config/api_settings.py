"""The `api:` section of lambdatop.yaml: where the template's API routes answer.

    api:
      host: 127.0.0.1            # default; anything not loopback also needs http.allow_remote / --allow-remote
      port: 3000                 # default (SAM's `start-api`); 0 picks a free port
      enabled: true              # false (or `api: false`) runs without the API port
      integration_timeout: 29    # seconds; caps every route's TimeoutInMillis (504 past it)

Command-line flags (`--api-port`, `--no-api`) win over the file; the file wins over the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lambdatop.runtime.config.loading import FleetConfig
from lambdatop.runtime.config.ports import DEFAULT_API_HOST, DEFAULT_API_PORT
from lambdatop.runtime.config.service_section import ServiceSection

__all__ = ["DEFAULT_API_HOST", "DEFAULT_API_PORT", "ApiSettings"]
_KEYS = ("enabled", "host", "port", "integration_timeout")


@dataclass(frozen=True)
class ApiSettings:
    enabled: bool = True
    host: str = DEFAULT_API_HOST
    port: int = DEFAULT_API_PORT
    integration_timeout_s: float | None = None  # None: each route's TimeoutInMillis (29 s unless set)

    @classmethod
    def from_config(cls, config: FleetConfig) -> ApiSettings:
        section = ServiceSection.read(config, "api", _KEYS)
        if section is None or isinstance(section, bool):
            return cls() if section is None else cls(enabled=section)
        timeout = section.get("integration_timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise section.error("integration_timeout", f"must be a positive number of seconds, got {timeout!r}")
        return cls(enabled=section.flag("enabled", True), host=section.host(DEFAULT_API_HOST),
                   port=section.port(DEFAULT_API_PORT), integration_timeout_s=float(timeout) if timeout is not None else None)

    def overridden(self, *, port: int | None = None, disabled: bool = False) -> ApiSettings:
        """These settings with what the command line gave (`--api-port`, `--no-api`)."""
        changes: dict[str, Any] = {}
        if port is not None:
            changes |= {"port": port, "enabled": True}
        if disabled:
            changes["enabled"] = False
        return replace(self, **changes)
