"""The telemetry bus: finished invocations and lifecycle events, fanned out to subscribers.

Publishing is a deque append per subscriber, so it costs the same whether a
subscriber keeps up or not. Each subscription is bounded: when a slow
subscriber falls behind, the oldest items are dropped and counted, never the
invocation itself.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class EnvironmentEvent:
    """An execution environment changed state (created, idle, gone...)."""

    function: str
    env_id: str
    state: str
    pid: int | None
    at: float


@dataclass(slots=True)
class FleetEvent:
    """Something happened to the fleet as a whole: a reload, a config error, a notice."""

    kind: str
    message: str
    at: float
    function: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Subscription:
    def __init__(self, name: str, maxlen: int) -> None:
        self.name = name
        self.items: collections.deque[Any] = collections.deque(maxlen=maxlen)
        self.dropped = 0
        self._ready: asyncio.Event | None = None

    def _put(self, item: Any) -> None:
        if len(self.items) == self.items.maxlen:
            self.dropped += 1
        self.items.append(item)
        if self._ready is not None:
            self._ready.set()

    def drain(self) -> list[Any]:
        """Everything published since the last drain, oldest first."""
        items = list(self.items)
        self.items.clear()
        return items

    async def wait(self, timeout: float | None = None) -> list[Any]:
        """Wait until something arrives (or the timeout passes), then drain."""
        if not self.items:
            if self._ready is None:
                self._ready = asyncio.Event()
            self._ready.clear()
            # asyncio.wait, not wait_for: Python 3.11's wait_for swallows a cancel that lands as its
            # timeout fires, so a loop around it ran on after being cancelled (serve hung on SIGTERM).
            waiter = asyncio.ensure_future(self._ready.wait())
            try:
                await asyncio.wait({waiter}, timeout=timeout)
            finally:
                waiter.cancel()
        return self.drain()


class TelemetryBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []

    def subscribe(self, name: str, maxlen: int = 10_000) -> Subscription:
        subscription = Subscription(name, maxlen)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def publish(self, item: Any) -> None:
        for subscription in self._subscriptions:
            subscription._put(item)
