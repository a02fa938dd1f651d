"""`AwsService`: the AWS services a run has, attached to a `Fleet` (see runtime/services.py).

At start it brings up the endpoint functions' AWS calls go to (the sidecar,
an existing emulator, or real AWS when the config opts in), tells every new
worker about it (AWS_ENDPOINT_URL, credentials), creates the template's
non-function resources there and re-reads the config with their real local
names, so `!Ref MyQueue` in an environment variable is the queue's URL. It
installs itself as the fleet's config loader, so a reloaded template adds and
removes resources live; a sidecar that dies is restarted and its resources
created again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.aws.secrets import apply_secrets, delete_secrets
from lambdatop.runtime.config.aws_settings import AwsSettings, Credentials, Endpoint
from lambdatop.runtime.aws.sidecar import Sidecar, SidecarUnavailable
from lambdatop.runtime.aws.stack import LocalStack, StackPlan, plan_stack, stack_name_for
from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.config import FleetConfig, ResourceValues, load_config
from lambdatop.runtime.fleet import Fleet

if TYPE_CHECKING:  # boto3 behind them: imported once the services are on (`--no-aws` never needs it)
    from lambdatop.runtime.aws.clients import AwsClients
    from lambdatop.runtime.aws.inventory import Inventory, ResourceFigures

DEFAULT_HOST = "127.0.0.1"
INVENTORY_INTERVAL_S = 2.0
_CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass(frozen=True, slots=True)
class ResourceSnapshot:
    logical_id: str
    type: str
    physical_id: str | None
    created: bool
    note: str = ""  # why it was not created
    figures: ResourceFigures | None = None


@dataclass(frozen=True, slots=True)
class AwsSnapshot:
    """What the screen shows of the AWS services: where they are and what the template made there."""

    mode: str  # "sidecar", "external", "real", "off"
    endpoint_url: str | None
    pid: int | None
    state: str
    restarts: int
    resources: tuple[ResourceSnapshot, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)


class AwsService:
    """A `Service` (see `Fleet.add_service`). Start it before anything that spawns workers."""

    def __init__(self, settings: AwsSettings | None = None, host: str = DEFAULT_HOST) -> None:
        self._settings_override = settings
        self.settings = settings or AwsSettings()
        self.host = host
        self.fleet: Fleet | None = None
        self.sidecar: Sidecar | None = None
        self.clients: AwsClients | None = None
        self.stack: LocalStack | None = None
        self.plan: StackPlan | None = None
        self.values = ResourceValues()
        self.problems: list[str] = []
        self.inventory: Inventory | None = None
        self._lock = asyncio.Lock()
        self._inventory_task: asyncio.Task[None] | None = None

    @property
    def endpoint_url(self) -> str | None:
        if self.sidecar is not None:
            return self.sidecar.url
        return self.settings.endpoint_url if self.settings.local else None

    # -- lifecycle --------------------------------------------------------------------

    async def start(self, fleet: Fleet) -> None:
        self.fleet = fleet
        if self._settings_override is None:
            self.settings = AwsSettings.from_config(fleet.config)
        fleet.snapshot_providers["aws"] = self.snapshot
        if self.settings.credentials is Credentials.HOST:
            fleet.worker_environment.update(_host_credentials())
        if not self.settings.enabled:
            return
        if self.settings.endpoint is Endpoint.REAL:
            self._publish("warning", "aws: endpoint: real — functions' own AWS calls go to your real AWS account with "
                                     "your credentials; no local resources are created and no event sources are polled")
            return
        if self.settings.runs_sidecar:
            self.sidecar = Sidecar(self.host, self.settings.port, fleet.work_dir / "aws-sidecar.log")
            try:
                await self.sidecar.start()
            except SidecarUnavailable as exc:
                if not self.settings.port or "in use" not in str(exc):
                    raise
                # Another emulator (or lambdatop) holds the port: run on a free one rather than not at all.
                self.sidecar = Sidecar(self.host, 0, fleet.work_dir / "aws-sidecar.log")
                await self.sidecar.start()
                self._publish("warning", f"port {self.settings.port} for the AWS services is in use; they are on "
                                         f"{self.sidecar.url} instead (aws: {{endpoint_url: ...}} uses an emulator already running)")
            self.sidecar.on_restart = self._after_restart
        url = self.endpoint_url
        assert url is not None
        fleet.worker_environment["AWS_ENDPOINT_URL"] = url
        from lambdatop.runtime.aws.clients import AwsClients
        from lambdatop.runtime.aws.inventory import Inventory

        self.clients = AwsClients(url, fleet.config.region)
        self.stack = LocalStack(self.clients.client("cloudformation"), url, stack_name_for(fleet.config))
        where = f"sidecar pid {self.sidecar.pid}" if self.sidecar else "an existing emulator"
        self._publish("aws", f"AWS services at {url} ({where})", detail={"url": url})
        await self._create_resources(fleet.config)
        fleet.config_loader = self.load_config
        self.inventory = Inventory(self.clients)
        self._inventory_task = asyncio.create_task(self._refresh_inventory(), name="lambdatop-aws-inventory")

    async def stop(self) -> None:
        if self._inventory_task is not None:
            self._inventory_task.cancel()
            await asyncio.gather(self._inventory_task, return_exceptions=True)
        fleet = self.fleet
        if fleet is not None:
            fleet.snapshot_providers.pop("aws", None)
            if fleet.worker_environment.get("AWS_ENDPOINT_URL") == self.endpoint_url:
                fleet.worker_environment.pop("AWS_ENDPOINT_URL", None)
            if fleet.config_loader == self.load_config:
                fleet.config_loader = fleet.read_config
        if self.sidecar is not None:
            await self.sidecar.stop()

    # -- resources ---------------------------------------------------------------------

    def load_config(self, path: Path | str | None = None) -> FleetConfig:
        """Blocking (the reload service calls it in a thread): the config with the stack brought in line with it."""
        inputs = self.fleet.config.inputs if self.fleet is not None else None
        raw = load_config(path, inputs=inputs)
        values = self._apply(raw)
        return load_config(path, resources=values, inputs=inputs) if values.names or values.attributes else raw

    def _apply(self, config: FleetConfig) -> ResourceValues:
        assert self.stack is not None
        plan = plan_stack(config, self.stack.name)
        try:
            values = self._with_secrets(plan, self.stack.apply(plan))
        except Exception as exc:  # noqa: BLE001 - a resource the emulator refuses must not stop the run
            self.problems = [f"creating the template's resources failed: {exc}"]
            self._publish("warning", self.problems[0])
            return self.values
        new_warnings = [w for w in plan.warnings() if not self.plan or w not in self.plan.warnings()]
        for warning in new_warnings:
            self._publish("warning", f"not created locally: {warning}")
        if self.plan is not None and plan.resources != self.plan.resources:
            added = sorted(set(plan.resources) - set(self.plan.resources))
            removed = sorted(set(self.plan.resources) - set(plan.resources))
            self._publish("aws", "resources: " + ", ".join([*(f"+{r}" for r in added), *(f"-{r}" for r in removed)]))
        self.plan, self.values, self.problems = plan, values, plan.warnings()
        return values

    def _with_secrets(self, plan: StackPlan, values: ResourceValues) -> ResourceValues:
        """Create the secrets the plan makes by hand (and delete those a template change removed); their Ref is the ARN."""
        assert self.clients is not None and self.stack is not None
        client = self.clients.client("secretsmanager")
        if self.plan is not None:
            gone = {rid: r for rid, r in self.plan.hand_made.items() if rid not in plan.hand_made}
            delete_secrets(client, gone, self.stack.name)
        if not plan.hand_made:
            return values
        arns = apply_secrets(client, plan.hand_made, self.stack.name)
        return ResourceValues(names={**values.names, **arns}, attributes=values.attributes)

    async def _create_resources(self, config: FleetConfig) -> None:
        """Create the stack, then give every function the config that names the real resources."""
        fleet = self.fleet
        assert fleet is not None
        async with self._lock:
            started = time.monotonic()
            resolved = await asyncio.to_thread(self.load_config, config.path)
            if self.plan is not None and self.plan.resources:
                self._publish("aws", f"{len(self.plan.resources)} resource(s) of the template created in "
                                     f"{time.monotonic() - started:.1f} s")
            fleet.replace_config(resolved)
            for name, function in resolved.functions.items():
                current = fleet.pools.get(name)
                if current is None:
                    continue
                recycle = current.function.environment != function.environment
                fleet.update_function(function, recycle=recycle)

    async def _after_restart(self) -> None:
        assert self.sidecar is not None and self.fleet is not None and self.stack is not None
        self.stack.exists = False
        self.plan, self.values = None, ResourceValues()
        await self._create_resources(self.fleet.config)
        self._publish("warning", f"the AWS services sidecar died; restarted (pid {self.sidecar.pid}, "
                                 f"restart {self.sidecar.restarts}); the template's resources were created again, empty")

    async def send(self, logical_id: str, payload: Any) -> str:
        """Send a message / put an object / publish / put an event or item into a template resource."""
        if self.inventory is None or self.plan is None or logical_id not in self.plan.resources:
            raise ValueError(f"{logical_id} is not a resource in the AWS services")
        physical = self.values.names.get(logical_id) or self.values.attributes.get((logical_id, "Name"), "")
        return await asyncio.to_thread(self.inventory.send, self.plan.resources[logical_id], physical, payload)

    async def _refresh_inventory(self) -> None:
        # Refresh first, then wait: the plumbing view opened right after start shows depths, not dashes.
        while True:
            if self.inventory is not None and self.plan is not None:
                try:
                    await asyncio.to_thread(self.inventory.refresh, dict(self.plan.resources), dict(self.values.names))
                except Exception:  # noqa: BLE001 - figures are best effort; the sidecar may be restarting
                    pass
            await asyncio.sleep(INVENTORY_INTERVAL_S)

    # -- screen ------------------------------------------------------------------------

    def snapshot(self) -> AwsSnapshot:
        mode = "off" if not self.settings.enabled else "real" if self.settings.endpoint is Endpoint.REAL else \
            "sidecar" if self.sidecar else "external"
        resources: list[ResourceSnapshot] = []
        if self.plan is not None:
            figures = self.inventory.figures if self.inventory else {}
            resources += [ResourceSnapshot(rid, kind, self.values.names.get(rid), True, figures=figures.get(rid))
                          for rid, kind in self.plan.resources.items()]
            template = (self.fleet.config.template or {}).get("Resources", {}) if self.fleet else {}
            resources += [ResourceSnapshot(rid, str((template.get(rid) or {}).get("Type", "")), None, False, why)
                          for rid, why in self.plan.skipped.items()]
        return AwsSnapshot(
            mode=mode, endpoint_url=self.endpoint_url, pid=self.sidecar.pid if self.sidecar else None,
            state=str(self.sidecar.state) if self.sidecar else ("on" if self.settings.local else mode),
            restarts=self.sidecar.restarts if self.sidecar else 0, resources=tuple(resources), problems=tuple(self.problems),
        )

    def _publish(self, kind: str, message: str, detail: dict[str, Any] | None = None) -> None:
        if self.fleet is not None:
            self.fleet.bus.publish(FleetEvent(kind, message, time.time(), detail=detail or {}))


def aws_service(fleet: Fleet) -> AwsService | None:
    """The fleet's AWS service, if one is attached."""
    return next((s for s in fleet.services if isinstance(s, AwsService)), None)


def _host_credentials() -> dict[str, str]:
    """This shell's AWS credentials as boto3 finds them (environment, profile, SSO), for aws: {credentials: host}."""
    import boto3

    found = boto3.session.Session().get_credentials()
    if found is None:
        return {}
    frozen = found.get_frozen_credentials()
    values = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
    if frozen.token:
        values["AWS_SESSION_TOKEN"] = frozen.token
    return values
