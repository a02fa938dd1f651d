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
    allow_remote: bool = False  # let the HTTP endpoint listen on a non-loopback host (it has no auth)


def attach_standard_services(fleet: Fleet, options: ServiceOptions) -> None:
    """Attach every standard service to `fleet` (before `fleet.start()`)."""
    # (Other capabilities: add your blocks above the endpoint's.)
    # The durable store (records every invocation as one run) and the async queue that lives in it.
    # First, so everything after can read fleet.store and accepted events resume before requests arrive.
    attach_store_services(fleet, enabled=options.store, adopt=True)
    # Observability: X-Ray daemon, traces, metrics, EMF, alarms. After the store (it hands traces to it
    # and, stopping first, flushes the last ones into it) and before anything that spawns workers.
    from lambdatop.runtime.observability import ObservabilityService

    fleet.add_service(ObservabilityService())
    # Hot reload: code versions (v1 + hash, computed at start), file watching, live config changes.
    # Before the endpoint, so the first request already carries a hashed code version.
    if options.watch:
        from lambdatop.runtime.reload import ReloadService

        fleet.add_service(ReloadService())
    # The HTTP endpoint (Invoke API, control plane, function URLs). Keep it LAST: services start in
    # order, so it takes requests only once the others (store, async queue) are up, and stops first.
    if options.port is not None:
        from lambdatop.runtime.endpoint import LambdaEndpoint

        fleet.add_service(LambdaEndpoint(options.host, options.port, allow_remote=options.allow_remote))


def attach_store_services(fleet: Fleet, *, enabled: bool = True, adopt: bool = True, command: str | None = None) -> None:
    """The store and the async queue, as the project's `store:` section says (a `store: {enabled: false}` turns both off).

    `adopt=False` is for short-lived commands (`invoke --async`, `replay`): they
    deliver their own events and leave the backlog of earlier runs to the
    dashboard or `lambdatop serve`.
    """
    from lambdatop.runtime.asyncq import AsyncQueue
    from lambdatop.runtime.store import StoreService, StoreSettings

    settings = StoreSettings.from_config(fleet.config)
    if not (enabled and settings.enabled):
        return
    fleet.add_service(StoreService(settings, command=command))
    fleet.add_service(AsyncQueue(adopt=adopt))
