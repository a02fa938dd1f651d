"""The services `lambdatop` (the dashboard) and `lambdatop serve` run beside the pool.

One place decides what a full run has, so the dashboard and the headless
server cannot drift apart. Each capability adds its own block below.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdatop.runtime.fleet import Fleet


@dataclass(frozen=True)
class ServiceOptions:
    host: str = "127.0.0.1"
    port: int | None = 3001  # the HTTP endpoint; None turns it off, 0 picks a free port
    watch: bool = True  # hot reload
    store: bool = True  # the durable store in .lambdatop/ beside the config


def attach_standard_services(fleet: Fleet, options: ServiceOptions) -> None:
    """Attach every standard service to `fleet` (before `fleet.start()`)."""
