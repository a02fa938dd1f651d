"""The services `lambdatop` (the dashboard) and `lambdatop serve` run beside the pool.

One place decides what a full run has, so the dashboard and the headless
server cannot drift apart. Each capability adds its own block below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lambdatop.runtime.config.api_settings import ApiSettings
from lambdatop.runtime.fleet import Fleet

if TYPE_CHECKING:
    from lambdatop.runtime.reload.service import ReloadService


@dataclass(frozen=True)
class ServiceOptions:
    host: str = "127.0.0.1"
    port: int | None = 3001  # the HTTP endpoint; None turns it off, 0 picks a free port
    watch: bool = True  # hot reload
    store: bool = True  # the durable store in .lambdatop/ beside the config
    allow_remote: bool = False  # let the HTTP endpoint (and the API port) listen on a non-loopback host (no auth)
    api: ApiSettings | None = None  # the template's API routes (runtime/apigateway); None = no API port


def attach_standard_services(fleet: Fleet, options: ServiceOptions) -> None:
    """Attach every standard service to `fleet` (before `fleet.start()`)."""
    _attach_in_order(fleet, store=options.store, watch=options.watch, adopt=True)
    # Schedules fire through the async queue, so they start after it (and stop firing before it stops).
    from lambdatop.runtime.triggers.schedules import ScheduleService

    fleet.add_service(ScheduleService())
    # The template's API routes on the API port, once there is something for them to call.
    if options.api is not None and options.api.enabled:
        from lambdatop.runtime.apigateway.server import ApiGatewayService, has_routes

        if has_routes(fleet.config):
            fleet.add_service(ApiGatewayService(options.api.host, options.api.port, allow_remote=options.allow_remote,
                                                integration_timeout_s=options.api.integration_timeout_s))
    # The HTTP endpoint (Invoke API, control plane, function URLs). Keep it LAST: services start in
    # order, so it takes requests only once the others (store, async queue) are up, and stops first.
    if options.port is not None:
        attach_endpoint(fleet, options.host, options.port, allow_remote=options.allow_remote)


def attach_endpoint(fleet: Fleet, host: str = "127.0.0.1", port: int = 3001, *, allow_remote: bool = False) -> None:
    """The Lambda HTTP endpoint alone; once started, `fleet.endpoint` is its URL.

    Raises RemoteAccessRefused for a non-loopback host without `allow_remote`.
    """
    from lambdatop.runtime.api.endpoint import LambdaEndpoint

    fleet.add_service(LambdaEndpoint(host, port, allow_remote=allow_remote))


def attach_hot_reload(fleet: Fleet) -> ReloadService:
    """Hot reload alone: code versions, file watching, live config changes; returns the service (`settled()`)."""
    from lambdatop.runtime.reload.service import ReloadService

    service = ReloadService()
    fleet.add_service(service)
    return service


def attach_command_services(fleet: Fleet, *, command: str | None = None) -> None:
    """What a short-lived command (`invoke`, `replay`) runs: recorded and traced like any run.

    No watcher and no endpoint; its async queue delivers only the command's own
    events and leaves the backlog of earlier runs to the dashboard or `serve`.
    """
    _attach_in_order(fleet, store=True, watch=False, adopt=False, command=command)


def _attach_in_order(fleet: Fleet, *, store: bool, watch: bool, adopt: bool, command: str | None = None) -> None:
    # Order matters: services start in this order and stop in reverse.
    # 1. The durable store first: everything after it can read fleet.store, and it closes last.
    attach_store_services(fleet, enabled=store, command=command, queue=False)
    # 2. Observability (X-Ray daemon, traces, metrics, EMF, alarms): before anything that spawns
    #    workers, so every worker gets the daemon's address; it stops before the store, so the
    #    last traces are flushed into it.
    from lambdatop.runtime.observability.service import ObservabilityService

    fleet.add_service(ObservabilityService())
    # 3. Hot reload: code versions (v1 + hash, computed at start), file watching, live config changes.
    if watch:
        attach_hot_reload(fleet)
    # 4. The async queue: it resumes accepted events of earlier runs, so only once code versions
    #    and tracing are in place; it stops (and stops delivering) before them.
    attach_async_queue(fleet, enabled=store, adopt=adopt)


def attach_store_services(
    fleet: Fleet, *, enabled: bool = True, adopt: bool = True, command: str | None = None, queue: bool = True
) -> None:
    """The store and (with `queue`) the async queue, as the project's `store:` section says.

    A `store: {enabled: false}` turns both off. `adopt=False` is for short-lived
    commands (`invoke --async`, `replay`): they deliver their own events and
    leave the backlog of earlier runs to the dashboard or `lambdatop serve`.
    """
    from lambdatop.runtime.store.writer import StoreService
    from lambdatop.runtime.config.store_settings import StoreSettings

    settings = StoreSettings.from_config(fleet.config)
    if not (enabled and settings.enabled):
        return
    fleet.add_service(StoreService(settings, command=command))
    if queue:
        attach_async_queue(fleet, enabled=True, adopt=adopt)


def attach_async_queue(fleet: Fleet, *, enabled: bool = True, adopt: bool = True) -> None:
    """The durable async queue; it lives in the store, so only when the store is on."""
    from lambdatop.runtime.async_invoke.queue import AsyncQueue
    from lambdatop.runtime.config.store_settings import StoreSettings

    if enabled and StoreSettings.from_config(fleet.config).enabled:
        fleet.add_service(AsyncQueue(adopt=adopt))
