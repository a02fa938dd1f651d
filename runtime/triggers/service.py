"""`TriggerService`: runs the template's event source mappings and push sources against the AWS services.

It reads the sources from the fleet's config (`sources.read_sources`) and keeps
one poller per source. A reconcile loop compares them with the config every
second, so a reloaded template, a mapping disabled through the Lambda API, or
a sidecar restarted with new resource names is picked up without a restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lambdatop.runtime.aws.service import AwsService, aws_service
from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.triggers.mapping_state import MappingSnapshot, MappingState
from lambdatop.runtime.triggers.push import PushPoller
from lambdatop.runtime.triggers.sources import PushSource, QueueMapping, Sources, StreamMapping, read_sources
from lambdatop.runtime.triggers.sqs_poller import SqsPoller
from lambdatop.runtime.triggers.stream_poller import StreamPoller

RECONCILE_INTERVAL_S = 1.0
POLLER_THREADS = 64  # each long poll holds a thread for up to LONG_POLL_S

Poller = SqsPoller | StreamPoller | PushPoller


class TriggerService:
    """A `Service` (see `Fleet.add_service`); attach after the AWS services and the async queue."""

    def __init__(self) -> None:
        self.fleet: Fleet | None = None
        self.aws: AwsService | None = None
        self.pollers: dict[str, Poller] = {}
        self.problems: tuple[str, ...] = ()
        # UpdateEventSourceMapping changes, kept over the template's values until the template changes them.
        self.overrides: dict[str, dict[str, Any]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._reported: set[str] = set()

    async def start(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.aws = aws_service(fleet)
        fleet.snapshot_providers["triggers"] = self.snapshot
        if self.aws is None or self.aws.clients is None:
            sources = read_sources(fleet.config)
            if sources.mappings or sources.push:
                self._publish("warning", "event sources are not run: the AWS services are off (--no-aws or aws: false)")
            return
        self._executor = ThreadPoolExecutor(POLLER_THREADS, thread_name_prefix="lambdatop-poller")
        await self.reconcile()
        self._task = asyncio.create_task(self._reconcile_forever(), name="lambdatop-triggers")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*(p.stop() for p in self.pollers.values()), return_exceptions=True)
        self.pollers = {}
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self.fleet is not None:
            self.fleet.snapshot_providers.pop("triggers", None)

    # -- keeping pollers in line with the config ---------------------------------------

    def desired(self) -> Sources:
        assert self.fleet is not None
        sources = read_sources(self.fleet.config)
        mappings = tuple(dataclasses.replace(m, **self.overrides.get(m.uuid, {})) for m in sources.mappings)
        return dataclasses.replace(sources, mappings=mappings)

    async def reconcile(self) -> None:
        fleet, aws = self.fleet, self.aws
        assert fleet is not None and aws is not None and aws.clients is not None
        sources = self.desired()
        for problem in sources.problems:
            if problem not in self._reported:
                self._reported.add(problem)
                self._publish("warning", f"event source not run: {problem}")
        self.problems = sources.problems
        wanted: dict[str, QueueMapping | StreamMapping | PushSource] = {s.uuid: s for s in (*sources.mappings, *sources.push)}
        for ident in [i for i in self.pollers if i not in wanted or _moved(self.pollers[i], wanted[i])]:
            await self.pollers.pop(ident).stop()
        for ident, source in wanted.items():
            poller = self.pollers.get(ident)
            if poller is not None:
                _apply_live(poller, source)
                continue
            poller = self._poller(source)
            if poller is None:
                continue
            self.pollers[ident] = poller
            await poller.start()

    def _poller(self, source: QueueMapping | StreamMapping | PushSource) -> Poller | None:
        fleet, aws = self.fleet, self.aws
        assert fleet is not None and aws is not None and aws.clients is not None and self._executor is not None
        url = aws.endpoint_url or ""
        if isinstance(source, QueueMapping):
            return SqsPoller(fleet, source, aws.clients.client("sqs"), url, self._executor)
        if isinstance(source, StreamMapping):
            return StreamPoller(fleet, source, aws.clients, self._executor)
        return PushPoller(fleet, source, aws.clients, url, self._executor)

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_INTERVAL_S)
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad source must not stop the others
                self._publish("error", f"event sources: {type(exc).__name__}: {exc}")

    # -- the Lambda API's view (ListEventSourceMappings...) ------------------------------

    def mapping(self, ident: str) -> QueueMapping | StreamMapping | None:
        return next((m for m in self.desired().mappings if m.uuid == ident), None)

    def update_mapping(self, ident: str, changes: dict[str, Any]) -> QueueMapping | StreamMapping | None:
        """UpdateEventSourceMapping: `enabled`, `batch_size`, `window_s` (applied at the next poll)."""
        if self.mapping(ident) is None:
            return None
        self.overrides.setdefault(ident, {}).update(changes)
        mapping = self.mapping(ident)
        poller = self.pollers.get(ident)
        if poller is not None and mapping is not None:
            _apply_live(poller, mapping)
        return mapping

    def stats_of(self, ident: str) -> Any:
        poller = self.pollers.get(ident)
        return poller.stats if poller is not None else None

    # -- screen ------------------------------------------------------------------------

    def snapshot(self) -> list[MappingSnapshot]:
        out: list[MappingSnapshot] = []
        for ident, poller in self.pollers.items():
            source = poller.source
            stats = poller.stats
            enabled = getattr(source, "enabled", True)
            state = MappingState.ENABLED if enabled else MappingState.DISABLED
            if getattr(poller, "refused", None):
                state = MappingState.REFUSED
            kind = "sqs" if isinstance(source, QueueMapping) else source.kind if isinstance(source, StreamMapping) else str(source.kind)
            out.append(MappingSnapshot(
                uuid=ident, kind=kind, function=source.function, event=source.event, source_arn=getattr(poller, "source_arn", source.source_arn),
                state=str(state),
                batch_size=getattr(source, "batch_size", None), batches=stats.batches, records=stats.records,
                failed_batches=stats.failed_batches, throttles=stats.throttles, in_flight=stats.in_flight,
                last_poll_at=stats.last_poll_at, last_error=stats.last_error, iterator_age_ms=stats.iterator_age_ms,
            ))
        return sorted(out, key=lambda m: (m.function, m.event))

    def _publish(self, kind: str, message: str) -> None:
        if self.fleet is not None:
            self.fleet.bus.publish(FleetEvent(kind, message, time.time()))


def _apply_live(poller: Poller, source: QueueMapping | StreamMapping | PushSource) -> None:
    """Hand a mapping's live settings (Enabled, BatchSize, window) to its poller."""
    if isinstance(poller, SqsPoller) and isinstance(source, QueueMapping):
        poller.update(source)
    elif isinstance(poller, StreamPoller) and isinstance(source, StreamMapping):
        poller.update(source)


def _moved(poller: Poller, source: QueueMapping | StreamMapping | PushSource) -> bool:
    """Whether a source changed in a way its poller cannot take live (another queue, stream or settings)."""
    current = poller.source
    if type(current) is not type(source):
        return True
    if isinstance(source, (QueueMapping, StreamMapping)):
        live = {"enabled", "batch_size", "window_s"}
        fields = [f.name for f in dataclasses.fields(source) if f.name not in live]
        return any(getattr(current, f) != getattr(source, f) for f in fields)
    return current != source


def trigger_service(fleet: Fleet) -> TriggerService | None:
    return next((s for s in fleet.services if isinstance(s, TriggerService)), None)
