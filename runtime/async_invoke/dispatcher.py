"""Which queued event goes out next: due times in a heap, and per function at most so many deliveries at once.

The dispatcher knows nothing of retries or the store: it holds the events not
settled yet, hands each one to `deliver` when it is due and its function has a
free slot, and forgets it when told it settled.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from typing import Any
from dataclasses import dataclass, field

from lambdatop.runtime.async_invoke.journal import QueuedEvent


@dataclass(slots=True)
class FunctionQueue:
    """One function's events not settled yet."""

    events: dict[str, QueuedEvent] = field(default_factory=dict)  # accepted order: the first is the oldest
    retrying: dict[str, QueuedEvent] = field(default_factory=dict)  # waiting out a retry delay
    ready: deque[QueuedEvent] = field(default_factory=deque)  # due, waiting for a delivery slot
    in_flight: int = 0
    dlq: int = 0  # dead letters not redriven (for the screen)


class Dispatcher:
    """Due events to delivery slots; `run()` is its loop, on the supervisor's event loop."""

    def __init__(self, deliver: Callable[[QueuedEvent], Coroutine[Any, Any, None]], slots: Callable[[str], int]) -> None:
        self._deliver = deliver
        self._slots = slots  # how many deliveries a function may have in flight at once
        self.queues: dict[str, FunctionQueue] = {}
        self._heap: list[tuple[float, int, QueuedEvent]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._deliveries: set[asyncio.Task[None]] = set()

    def queue(self, function: str) -> FunctionQueue:
        q = self.queues.get(function)
        if q is None:
            q = self.queues[function] = FunctionQueue()
        return q

    def find(self, request_id: str) -> QueuedEvent | None:
        for q in self.queues.values():
            event = q.events.get(request_id)
            if event is not None:
                return event
        return None

    def events(self) -> Iterator[QueuedEvent]:
        for q in self.queues.values():
            yield from q.events.values()

    def schedule(self, event: QueuedEvent, at: float) -> None:
        """Deliver `event` at `at` (again, for a retry; an earlier heap entry of it no longer counts)."""
        event.next_attempt_at = at
        event.in_flight = False
        q = self.queue(event.function)
        q.events.setdefault(event.request_id, event)
        if event.attempts or event.throttles:
            q.retrying[event.request_id] = event
        heapq.heappush(self._heap, (at, next(self._seq), event))
        self._wake.set()

    def forget(self, event: QueuedEvent) -> None:
        """The event settled: it leaves its queue."""
        q = self.queue(event.function)
        q.events.pop(event.request_id, None)
        q.retrying.pop(event.request_id, None)

    async def run(self) -> None:
        self._wake = asyncio.Event()
        while True:
            self._release_due(time.time())
            for name, q in self.queues.items():
                while q.ready and q.in_flight < self._slots(name):
                    self._start(q.ready.popleft(), q)
            self._wake.clear()
            timeout = max(0.0, self._heap[0][0] - time.time()) if self._heap else None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    async def wait_for_deliveries(self, timeout: float) -> None:
        if self._deliveries:
            await asyncio.wait(self._deliveries, timeout=timeout)

    def _release_due(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            _, _, event = heapq.heappop(self._heap)
            if event.next_attempt_at > now or event.in_flight:
                continue  # rescheduled since; a newer heap entry stands for it
            q = self.queue(event.function)
            q.retrying.pop(event.request_id, None)
            q.ready.append(event)
            event.in_flight = True  # claimed: waiting for a slot counts as on its way

    def _start(self, event: QueuedEvent, q: FunctionQueue) -> None:
        q.in_flight += 1
        task = asyncio.create_task(self._deliver(event), name=f"lambdatop-async-{event.request_id}")
        self._deliveries.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._deliveries.discard(t)
            q.in_flight -= 1
            self._wake.set()

        task.add_done_callback(done)
