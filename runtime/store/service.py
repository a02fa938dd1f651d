"""The service that records a run: everything the fleet publishes goes into the store, and write failures are said.

`lambdatop`, `serve`, `invoke` and `replay` attach it (runtime/services.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.config.store_settings import StoreSettings
from lambdatop.runtime.records import InvocationResult
from lambdatop.runtime.snapshot import StoreView
from lambdatop.runtime.store.writer import Store

if TYPE_CHECKING:
    from lambdatop.runtime.bus import Subscription
    from lambdatop.runtime.fleet import Fleet


class StoreService:
    """Records everything the fleet publishes into the store, as one run. Attach with `fleet.add_service`."""

    def __init__(self, settings: StoreSettings, command: str | None = None) -> None:
        self.settings = settings
        self.command = command
        self.store: Store | None = None
        self._task: asyncio.Task[None] | None = None
        self._fleet: Fleet | None = None
        self._subscription: Subscription | None = None
        self._said_failing = False
        self._errors_seen = 0

    async def start(self, fleet: Fleet) -> None:
        assert self.settings.path is not None
        self.store = Store(self.settings.path, self.settings)
        self.store.begin_run(str(fleet.config.path), self.command)
        self._fleet = fleet
        self._subscription = fleet.subscribe("store", maxlen=100_000)
        self._task = asyncio.create_task(self._pump(self._subscription), name="lambdatop-store-pump")
        self.store.feeds.append(self._feed)
        store = self.store
        fleet.snapshot_providers["store"] = lambda: StoreView(
            path=str(store.path), run_id=store.run_id, written=store.written, backlog=store.backlog,
            errors=store.errors, last_error=store.last_error, failing=store.failing, unrecorded=store.unrecorded,
        )

    def opened_store(self) -> Store | None:
        return self.store

    async def _pump(self, subscription: Any) -> None:
        assert self.store is not None
        while True:
            self._write_all(await subscription.wait(1.0))
            self._report()

    def _report(self) -> None:
        """One line when writes start failing (serve prints it, the dashboard shows the header), one when they resume.

        Read from the error count, not only the last batch: a failure between two looks (a burst too
        big for the room left on a disk, then a small batch that fits) is still said.
        """
        store, fleet = self.store, self._fleet
        if store is None or fleet is None:
            return
        new_errors = store.errors > self._errors_seen
        self._errors_seen = store.errors
        if new_errors and not self._said_failing:
            self._said_failing = True
            message = f"store: writes failing, history is not recorded (lambdatop keeps serving): {store.last_error}"
            fleet.bus.publish(FleetEvent("error", message, time.time()))
        elif self._said_failing and not new_errors and not store.failing:
            self._said_failing = False
            fleet.bus.publish(FleetEvent("store", f"writes resumed; {store.unrecorded} invocations were not recorded",
                                         time.time()))

    def _feed(self) -> None:
        if self._subscription is not None:
            self._write_all(self._subscription.drain())

    def _write_all(self, items: list[Any]) -> None:
        assert self.store is not None
        for item in items:
            if isinstance(item, InvocationResult):
                self.store.write(item)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._fleet is not None and self._subscription is not None:
            # Whatever the bus still holds (the last invocations before stop) goes in too.
            self._feed()
            self._fleet.bus.unsubscribe(self._subscription)
            self._fleet.snapshot_providers.pop("store", None)
        if self.store is not None:
            self.store.end_run()
            await asyncio.to_thread(self.store.close)
