"""The schedules service: fires each schedule of the config on time, as an asynchronous invocation.

One timer per schedule on the supervisor's asyncio loop (`loop.call_later`),
never a thread: when it is due, the schedule's payload goes through
`fleet.enqueue` (the durable async queue, with Lambda's retries, DLQ and
destinations) with the trigger `schedule`, and the next timer is set. A
`FLEXIBLE` window (ScheduleV2) moves each firing by a random offset inside
the window, as the Scheduler does. Disabled schedules, and ones whose
expression cannot be resolved locally, are shown and never fire on their own;
`fire_now` fires any of them at once (the `f` key, `lambdatop schedules fire`).

A config reload (`fleet.config` replaced) adds, removes and changes schedules
live: a changed schedule starts again from the reload (a rule's rate counts
from it), keeping its counts. `snapshot()` (`fleet.snapshot().schedules`)
is a typed `SchedulesSnapshot` for the screen.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.config import FleetConfig
from lambdatop.runtime.errors import ConfigError, FleetStopped, LambdaServiceError, ScheduleNotFound
from lambdatop.runtime.records import Trigger
from lambdatop.runtime.snapshot import SchedulesSnapshot, ScheduleView
from lambdatop.runtime.config.cron import UTC
from lambdatop.runtime.config.schedule_firing import next_fire_time, payload_for
from lambdatop.runtime.config.schedules import (
    ScheduleDefinition,
    find_schedule,
    read_schedules,
)

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

CONFIG_POLL_S = 0.5  # how often the service looks for a reloaded config (an identity check)
EARLY_TOLERANCE_S = 0.005  # the loop's clock and the wall clock may disagree by this much


@dataclass(slots=True)
class _Live:
    """A schedule's live state: its definition, its timer and what it has done."""

    definition: ScheduleDefinition
    anchor: datetime
    scheduled: datetime | None = None
    fire_at: datetime | None = None
    timer: asyncio.TimerHandle | None = None
    fired: int = 0
    errors: int = 0
    last_fired_at: float | None = None
    last_error: str | None = None
    tasks: set[asyncio.Task[list[str]]] = field(default_factory=set)


class ScheduleService:
    """Runs the config's schedules. A `Service` (see `Fleet.add_service`); attach it after the async queue."""

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self.fleet: Fleet | None = None
        self.live: dict[str, _Live] = {}
        self.fired = 0
        self._rng = rng or random.Random()
        self._config: FleetConfig | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False

    @classmethod
    def of(cls, fleet: Fleet) -> ScheduleService | None:
        """The schedules service attached to `fleet`, if any."""
        return next((s for s in fleet.services if isinstance(s, cls)), None)

    async def start(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self._config = fleet.config
        now = datetime.now(UTC)
        for definition in read_schedules(fleet.config):
            self.live[definition.key] = _Live(definition, anchor=now)
            self._arm(self.live[definition.key], now, inclusive=True)
        fleet.snapshot_providers["schedules"] = self.snapshot
        self._watch = asyncio.create_task(self._follow_config(), name="lambdatop-schedules-config")

    async def stop(self) -> None:
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        pending = [t for live in self.live.values() for t in live.tasks]
        for live in self.live.values():
            if live.timer is not None:
                live.timer.cancel()
        if pending:
            await asyncio.wait(pending, timeout=10)
        if self.fleet is not None:
            self.fleet.snapshot_providers.pop("schedules", None)

    # -- firing -----------------------------------------------------------------------

    async def fire_now(self, name: str) -> list[str]:
        """Fire one schedule at once (enabled or not), beside its own timer; returns the accepted request ids."""
        definition = find_schedule([live.definition for live in self.live.values()], name)
        if definition is None:
            known = ", ".join(sorted(live.definition.name for live in self.live.values())) or "none"
            raise ScheduleNotFound(f"no schedule named {name!r} (known: {known})")
        return await self._fire(self.live[definition.key], datetime.now(UTC))

    def _arm(self, live: _Live, after: datetime, *, inclusive: bool) -> None:
        """Set the timer for the schedule's next firing after `after` (none when disabled or finished)."""
        if live.timer is not None:
            live.timer.cancel()
        live.timer = None
        definition = live.definition
        live.scheduled = next_fire_time(definition, anchor=live.anchor, after=after, inclusive=inclusive)
        live.fire_at = live.scheduled
        if live.scheduled is None or not definition.enabled:
            return
        if definition.window_min:
            live.fire_at = live.scheduled + timedelta(seconds=self._rng.uniform(0, definition.window_min * 60))
        self._set_timer(live)

    def _set_timer(self, live: _Live) -> None:
        assert live.fire_at is not None
        loop = asyncio.get_running_loop()
        live.timer = loop.call_later(max(0.0, live.fire_at.timestamp() - time.time()), self._due, live)

    def _due(self, live: _Live) -> None:
        if self._stopping or self.live.get(live.definition.key) is not live or live.fire_at is None:
            return
        if time.time() < live.fire_at.timestamp() - EARLY_TOLERANCE_S:
            self._set_timer(live)  # the loop's clock ran ahead of the wall clock: wait the rest
            return
        scheduled = live.scheduled
        assert scheduled is not None
        task = asyncio.create_task(self._fire(live, scheduled), name=f"lambdatop-schedule-{live.definition.name}")
        live.tasks.add(task)
        task.add_done_callback(live.tasks.discard)
        # From the later of its own time and now: after a stall (a laptop asleep) missed firings are skipped, not replayed.
        self._arm(live, max(scheduled, datetime.now(UTC)), inclusive=False)

    async def _fire(self, live: _Live, at: datetime) -> list[str]:
        fleet = self.fleet
        assert fleet is not None
        definition = live.definition
        accepted = []
        live.fired += 1
        self.fired += 1
        live.last_fired_at = time.time()
        for target in definition.targets:
            payload = payload_for(definition, target, fleet.config, at)
            try:
                accepted.append(await fleet.enqueue(target.function, payload, trigger=Trigger.SCHEDULE))
            except FleetStopped:
                break
            except LambdaServiceError as exc:
                live.errors += 1
                live.last_error = f"{exc.code}: {exc.message}"
                fleet.bus.publish(FleetEvent("schedule_error", f"schedule {definition.name} → {target.function}: {live.last_error}",
                                             time.time(), target.function, {"schedule": definition.name}))
        return accepted

    # -- live config --------------------------------------------------------------------

    async def _follow_config(self) -> None:
        fleet = self.fleet
        assert fleet is not None
        while True:
            await asyncio.sleep(CONFIG_POLL_S)
            if fleet.config is self._config:
                continue
            self._config = fleet.config
            try:
                definitions = read_schedules(fleet.config)
            except ConfigError as exc:  # load_config checks schedules, so only a config built in code gets here
                fleet.bus.publish(FleetEvent("config_error", f"schedules unchanged: {exc}", time.time()))
                continue
            self.apply(definitions)

    def apply(self, definitions: list[ScheduleDefinition]) -> None:
        """Adopt a new set of schedules: added ones start, removed ones stop, changed ones start again."""
        assert self.fleet is not None
        now = datetime.now(UTC)
        wanted = {d.key: d for d in definitions}
        changes = []
        for key in [k for k in self.live if k not in wanted]:
            live = self.live.pop(key)
            if live.timer is not None:
                live.timer.cancel()
            changes.append(f"{live.definition.name} removed")
        for key, definition in wanted.items():
            current = self.live.get(key)
            if current is not None and current.definition == definition:
                continue
            if current is None:
                current = self.live[key] = _Live(definition, anchor=now)
                changes.append(f"{definition.name} added ({definition.expression_text})")
            else:
                changes.append(f"{definition.name} changed ({_what_changed(current.definition, definition)})")
                current.definition, current.anchor = definition, now
            self._arm(current, now, inclusive=True)
        if changes:
            self.fleet.bus.publish(FleetEvent("schedules", "schedules: " + ", ".join(changes), time.time(),
                                              detail={"changes": changes}))

    # -- the screen -----------------------------------------------------------------------

    def snapshot(self) -> SchedulesSnapshot:
        views = []
        for live in self.live.values():
            d = live.definition
            armed = live.timer is not None
            views.append(ScheduleView(
                name=d.name, key=d.key, kind=str(d.kind), functions=d.functions, expression=d.expression_text,
                timezone=d.timezone, enabled=d.enabled, next_fire_at=live.fire_at.timestamp() if armed and live.fire_at else None,
                scheduled_for=live.scheduled.timestamp() if armed and live.scheduled else None, window_min=d.window_min,
                last_fired_at=live.last_fired_at, fired=live.fired, errors=live.errors, last_error=live.last_error,
                description=d.description, unresolved=d.unresolved, arn=d.arn,
            ))
        views.sort(key=lambda v: (v.next_fire_at is None, v.next_fire_at or 0.0, v.name))
        return SchedulesSnapshot(views, self.fired)


def _what_changed(before: ScheduleDefinition, after: ScheduleDefinition) -> str:
    if before.expression_text != after.expression_text:
        return f"{before.expression_text} → {after.expression_text}"
    if before.enabled != after.enabled:
        return "enabled" if after.enabled else "disabled"
    return "settings"
