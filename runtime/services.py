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
    aws: bool = True  # the AWS services sidecar and event sources (--no-aws turns them off)
    aws_port: int | None = None  # --aws-port: overrides aws.port in the config; 0 picks a free port


def attach_standard_services(fleet: Fleet, options: ServiceOptions) -> None:
    """Attach every standard service to `fleet` (before `fleet.start()`)."""
    _attach_in_order(fleet, store=options.store, watch=options.watch, adopt=True, aws=options)
    # Schedules fire through the async queue, so they start after it (and stop firing before it stops).
    from lambdatop.runtime.triggers.schedules import ScheduleService

    fleet.add_service(ScheduleService())
    # The template's API routes on the API port, once there is something for them to call.
    if options.api is not None and options.api.enabled:
        from lambdatop.runtime.apigateway.template import has_routes

        if has_routes(fleet.config):
            from lambdatop.runtime.apigateway.server import ApiGatewayService

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

    No watcher, no endpoint and no AWS sidecar of its own (it joins a running
    one); its async queue delivers only the command's own events and leaves
    the backlog of earlier runs to the dashboard or `serve`.
    """
    _attach_in_order(fleet, store=True, watch=False, adopt=False, command=command, join_aws=True)


def _attach_in_order(
    fleet: Fleet, *, store: bool, watch: bool, adopt: bool, command: str | None = None, aws: ServiceOptions | None = None,
    join_aws: bool = False,
) -> None:
    # Order matters: services start in this order and stop in reverse.
    # 1. The durable store first: everything after it can read fleet.store, and it closes last.
    attach_store_services(fleet, enabled=store, command=command, queue=False)
    # 2. Observability (X-Ray daemon, traces, metrics, EMF, alarms): before anything that spawns
    #    workers, so every worker gets the daemon's address; it stops before the store, so the
    #    last traces are flushed into it.
    from lambdatop.runtime.observability.service import ObservabilityService

    fleet.add_service(ObservabilityService())
    # 2b. The AWS services (sidecar, the template's resources): before anything spawns workers, which
    #     get its URL, and before hot reload, which reads the config with the resources' real names.
    if aws is not None:
        attach_aws_services(fleet, aws)
    elif join_aws:  # a command: the AWS services of a running dashboard / serve, if there is one
        from lambdatop.runtime.aws.join import JoinRunningServices

        fleet.add_service(JoinRunningServices())
    # 3. Hot reload: code versions (v1 + hash, computed at start), file watching, live config changes.
    if watch:
        attach_hot_reload(fleet)
    # 4. The async queue: it resumes accepted events of earlier runs, so only once code versions
    #    and tracing are in place; it stops (and stops delivering) before them.
    attach_async_queue(fleet, enabled=store, adopt=adopt)
    # 5. Event sources and push sources: they invoke through the async queue, so after it.
    if aws is not None and aws.aws:
        from lambdatop.runtime.triggers.service import TriggerService

        fleet.add_service(TriggerService())


def attach_aws_services(fleet: Fleet, options: ServiceOptions) -> None:
    """The AWS services sidecar (or the emulator / real AWS the `aws:` section names)."""
    from lambdatop.runtime.aws.service import AwsService
    from lambdatop.runtime.config.aws_settings import AwsSettings

    settings = AwsSettings.from_config(fleet.config).overridden(port=options.aws_port, enabled=False if not options.aws else None)
    fleet.add_service(AwsService(settings, host=options.host if options.allow_remote else "127.0.0.1"))


def attach_store_services(
    fleet: Fleet, *, enabled: bool = True, adopt: bool = True, command: str | None = None, queue: bool = True
) -> None:
    """The store and (with `queue`) the async queue, as the project's `store:` section says.

    A `store: {enabled: false}` turns both off. `adopt=False` is for short-lived
    commands (`invoke --async`, `replay`): they deliver their own events and
    leave the backlog of earlier runs to the dashboard or `lambdatop serve`.
    """
    from lambdatop.runtime.store.service import StoreService
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
