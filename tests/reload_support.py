"""What the hot-reload tests share: a fleet with the reload service, and waiting for its events."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil

from lambdatop.runtime.bus import FleetEvent, Subscription
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.reload.service import ReloadService
from lambdatop.runtime.snapshot import ReloadView
from tests.conftest import lambdatop_processes


class Watched:
    """A running fleet, its reload service, and every FleetEvent it published."""

    def __init__(self, fleet: Fleet, service: ReloadService, subscription: Subscription) -> None:
        self.fleet = fleet
        self.service = service
        self.subscription = subscription
        self.events: list[FleetEvent] = []

    def _collect(self) -> None:
        self.events.extend(item for item in self.subscription.drain() if isinstance(item, FleetEvent))

    def kinds(self, kind: str) -> list[FleetEvent]:
        self._collect()
        return [event for event in self.events if event.kind == kind]

    async def next_event(self, kind: str, function: str | None = None, timeout: float = 15.0) -> FleetEvent:
        """The first `kind` event (for `function`) not yet taken; waits for it."""
        deadline = time.monotonic() + timeout
        while True:
            self._collect()
            for event in self.events:
                if event.kind == kind and (function is None or event.function == function):
                    self.events.remove(event)
                    return event
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind!r} event within {timeout} s; saw {[e.message for e in self.events]}")
            await asyncio.sleep(0.02)

    def forget(self) -> None:
        """Drop every event seen so far (after `settle()`: the next `next_event` is about what happens next)."""
        self._collect()
        self.events.clear()

    async def settle(self) -> None:
        """Every change seen is applied and every pre-warm finished."""
        await self.service.settled(timeout=15.0)

    async def heard(self, path: Path, timeout: float = 15.0) -> None:
        """Wait until the service has heard of a change to `path` and holds it, not yet applied."""
        deadline = time.monotonic() + timeout
        while path not in self.service.heard:
            if time.monotonic() > deadline:
                raise AssertionError(f"the change to {path} was not heard within {timeout} s")
            await asyncio.sleep(0.002)

    def reload_state(self, function: str) -> ReloadView:
        views = self.fleet.snapshot().reload
        assert views is not None
        return views[function]


@contextlib.asynccontextmanager
async def watched_fleet(config: Path) -> AsyncIterator[Watched]:
    fleet = Fleet(config)
    service = ReloadService()
    fleet.add_service(service)
    subscription = fleet.subscribe("test-reload")
    async with fleet:
        yield Watched(fleet, service, subscription)
    assert not alive(lambdatop_processes()), "a worker or zygote outlived the fleet"


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    result = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                result.append(proc)
        except psutil.NoSuchProcess:
            continue
    return result


def spares(fleet: Fleet) -> list[psutil.Process]:
    """The zygote's children that no environment owns: the spare it forks ahead of the next cold start."""
    assert fleet.spawner.pid is not None
    owned = {env.pid for pool in fleet.pools.values() for env in pool.envs.values()}
    return alive([child for child in psutil.Process(fleet.spawner.pid).children() if child.pid not in owned])


def save(path: Path, text: str) -> None:
    """Write a file as an editor would: the whole content at once, flushed."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
