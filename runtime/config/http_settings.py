"""The `http:` section of lambdatop.yaml: where the Lambda endpoint listens.

    http:
      host: 127.0.0.1      # default; anything not loopback also needs allow_remote
      port: 3001           # default (SAM's); 0 picks a free port
      allow_remote: false  # true takes effect only with --allow-remote on the command line too
      enabled: true        # false (or `http: false`) runs without the endpoint

Command-line flags win over the file; the file wins over the defaults. The
exception is `allow_remote`: a project's own file (cloned, downloaded) must not
open the unauthenticated endpoint to the network by itself, so it needs the flag.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lambdatop.runtime.config.loading import FleetConfig
from lambdatop.runtime.config.ports import DEFAULT_HOST, DEFAULT_PORT
from lambdatop.runtime.config.service_section import ServiceSection

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "HttpSettings"]
_KEYS = ("enabled", "host", "port", "allow_remote")


@dataclass(frozen=True)
class HttpSettings:
    enabled: bool = True
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allow_remote: bool = False

    @classmethod
    def from_config(cls, config: FleetConfig) -> HttpSettings:
        section = ServiceSection.read(config, "http", _KEYS)
        if section is None or isinstance(section, bool):
            return cls() if section is None else cls(enabled=section)
        return cls(enabled=section.flag("enabled", True), host=section.host(DEFAULT_HOST), port=section.port(DEFAULT_PORT),
                   allow_remote=section.flag("allow_remote", False))

    def overridden(self, *, host: str | None = None, port: int | None = None, allow_remote: bool | None = None) -> HttpSettings:
        """These settings with whatever the command line gave explicitly (None = not given)."""
        changes: dict[str, Any] = {}
        if host is not None:
            changes["host"] = host
        if port is not None:
            changes["port"] = port
            changes["enabled"] = True  # asking for a port asks for the endpoint
        changes["allow_remote"] = bool(allow_remote)  # the command line's word only (see the module's docstring)
        return replace(self, **changes)

