"""The `aws:` section of lambdatop.yaml: where functions' own AWS calls go, and with what keys.

    aws:
      enabled: true          # false (or `aws: false`, or --no-aws) runs no sidecar
      port: 4566             # the sidecar's port (LocalStack's); 0 picks a free one
      endpoint: local        # `real` sends functions' AWS calls to AWS itself (needs credentials: host)
      endpoint_url: null     # an AWS emulator already running (LocalStack, ministack): no sidecar
      credentials: dummy     # `host` passes this shell's AWS keys to workers

By default workers get the sidecar as AWS_ENDPOINT_URL and dummy keys, so
unmodified boto3 code reaches local resources and never the host's account.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any

from lambdatop.runtime.config.loading import FleetConfig
from lambdatop.runtime.config.service_section import ServiceSection

DEFAULT_PORT = 4566  # LocalStack's port, so tools configured for it work unchanged
_KEYS = ("enabled", "port", "endpoint", "endpoint_url", "credentials")


class Endpoint(enum.StrEnum):
    LOCAL = "local"  # the sidecar, or `endpoint_url`
    REAL = "real"  # AWS itself


class Credentials(enum.StrEnum):
    DUMMY = "dummy"
    HOST = "host"


@dataclass(frozen=True)
class AwsSettings:
    enabled: bool = True
    port: int = DEFAULT_PORT
    endpoint: Endpoint = Endpoint.LOCAL
    endpoint_url: str | None = None
    credentials: Credentials = Credentials.DUMMY

    @property
    def runs_sidecar(self) -> bool:
        return self.enabled and self.endpoint is Endpoint.LOCAL and self.endpoint_url is None

    @property
    def local(self) -> bool:
        """Whether functions' AWS calls go to an emulator (the sidecar or `endpoint_url`)."""
        return self.enabled and self.endpoint is Endpoint.LOCAL

    @classmethod
    def from_config(cls, config: FleetConfig) -> AwsSettings:
        section = ServiceSection.read(config, "aws", _KEYS)
        if section is None or isinstance(section, bool):
            return cls() if section is None else cls(enabled=section)
        error = section.error
        enabled = section.flag("enabled", True)
        port = section.port(DEFAULT_PORT)
        endpoint = _choice(section, "endpoint", Endpoint, Endpoint.LOCAL, error)
        credentials = _choice(section, "credentials", Credentials, Credentials.DUMMY, error)
        url = section.get("endpoint_url")
        if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
            raise error("endpoint_url", f"must be an http:// or https:// URL, got {url!r}")
        if url is not None and endpoint is Endpoint.REAL:
            raise error("endpoint_url", "cannot go with endpoint: real (real AWS has no endpoint_url)")
        if endpoint is Endpoint.REAL and credentials is not Credentials.HOST:
            raise error("endpoint", "endpoint: real needs credentials: host (dummy keys cannot reach AWS)")
        return cls(enabled=enabled, port=port, endpoint=endpoint, endpoint_url=url, credentials=credentials)

    def overridden(self, *, port: int | None = None, enabled: bool | None = None) -> AwsSettings:
        """These settings with what the command line gave explicitly (None = not given)."""
        changes: dict[str, Any] = {}
        if port is not None:
            changes["port"] = port
        if enabled is not None:
            changes["enabled"] = enabled
        return replace(self, **changes)


def _choice(section: ServiceSection, key: str, kind: type[enum.StrEnum], default: Any, error: Any) -> Any:
    value = section.get(key, default)
    try:
        return kind(value)
    except ValueError:
        raise error(key, f"must be one of {', '.join(kind)}, got {value!r}") from None
