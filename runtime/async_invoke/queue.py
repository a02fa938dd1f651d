"""Asynchronous invocation (InvocationType Event): the durable queue and its dispatcher.

`enqueue()` validates an event as Lambda's Invoke API does, commits it to the
store's `async_events` table, and only then returns its request id (the 202).
The dispatcher delivers queued events through `fleet.invoke(...,
InvocationType.EVENT)`, so they pass the same concurrency gate as everything
else, and applies Lambda's retry rules:

- a throttle or a system error puts the event back with exponential back-off
  (1 s doubling to 5 min, times `delay_scale`) until MaximumEventAgeInSeconds;
- a function error (raised, timed out, out of memory, crashed) is retried up
  to MaximumRetryAttempts times (0-2, default 2), about 1 min then 2 min
  later (times `delay_scale`: 0.6 s and 1.2 s at the default 0.01);
- reserved concurrency 0 sends the event straight to failure, no retries.

On final failure the event goes to the on-failure destination and/or the DLQ
(and always to the `dead_letters` table, which the DLQ screen lists and
redrives); on success to the on-success destination. Settling an event
(deleting its queue row) and recording its last invocation happen in one
transaction, so a `kill -9` at any moment leaves every accepted event either
settled or still queued: on restart it is delivered again (at least once).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import sqlite3
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.config import FleetConfig, FunctionConfig, check_known_keys
from lambdatop.runtime.config.async_settings import DEFAULT_DELAY_SCALE, DEFAULT_MAX_CONCURRENCY, AsyncSettings, QueueSettings, Target
from lambdatop.runtime.async_invoke.destinations import (
    DESTINATION_TRIGGER,
    Condition,
    dead_letter_attributes,
    invocation_record,
)
from lambdatop.runtime.errors import ConfigError, FleetStopped, FunctionNotFound, LambdaServiceError, Throttled
from lambdatop.runtime.identifiers import request_id as new_request_id
from lambdatop.runtime.execution.invoker import check_payload
from lambdatop.runtime.records import InvocationResult, InvocationStatus, InvocationType, Trigger
from lambdatop.runtime.store.writer import Store
from lambdatop.runtime.store.reader import process_alive
from lambdatop.runtime.store.schema import StoreError
from lambdatop.runtime.config.yamlfile import line_of

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

FUNCTION_ERROR_DELAYS_S = (60.0, 120.0)  # before the 1st and 2nd retry
THROTTLE_BACKOFF_MAX_S = 300.0
ADOPT_INTERVAL_S = 2.0  # how often a long-running lambdatop looks for events other runs left queued


def function_error_delay(retry: int, scale: float) -> float:
    """Seconds before function-error retry number `retry` (1 or 2)."""
    return FUNCTION_ERROR_DELAYS_S[min(retry, len(FUNCTION_ERROR_DELAYS_S)) - 1] * scale


def throttle_delay(throttles: int, scale: float) -> float:
    """Seconds before the next try after `throttles` throttles or system errors in a row: 1, 2, 4 ... 300, scaled."""
    return min(2.0 ** (throttles - 1), THROTTLE_BACKOFF_MAX_S) * scale


@dataclass(slots=True)
class QueuedEvent:
    """An accepted event not settled yet."""

    request_id: str
    function: str
    payload: bytes
    trigger: str
    trace: str | None
    accepted_at: float
    next_attempt_at: float
    attempts: int = 0  # deliveries that ran the function (each costs a retry when it fails)
    throttles: int = 0  # throttles/system errors in a row (drives the back-off)
    last_error_type: str | None = None
    last_error_message: str | None = None
    in_flight: bool = False
    waiters: list[asyncio.Future[InvocationResult | None]] = field(default_factory=list)


@dataclass(slots=True)
class _FunctionQueue:
    events: dict[str, QueuedEvent] = field(default_factory=dict)  # accepted order: the first is the oldest
    retrying: dict[str, QueuedEvent] = field(default_factory=dict)  # waiting out a retry delay
    ready: deque[QueuedEvent] = field(default_factory=deque)  # due, waiting for a delivery slot
    in_flight: int = 0
    dlq: int = 0


class AsyncQueue:
    """The durable async queue and its dispatcher: a fleet service (attach with `fleet.add_service`).

    `adopt=True` (the dashboard, `lambdatop serve`) also takes over events left
    queued by earlier runs that are gone (killed, crashed, stopped); short-lived
    commands (`lambdatop invoke --async`, `replay`) deliver only their own.
    """

    def __init__(self, store: Store | None = None, *, adopt: bool = True, settings: QueueSettings | None = None) -> None:
        self._store = store
        self.adopt = adopt
        self.settings = settings
        self.fleet: Fleet | None = None
        self.queues: dict[str, _FunctionQueue] = {}
        self._heap: list[tuple[float, int, QueuedEvent]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._deliveries: set[asyncio.Task[None]] = set()
        self._settings_cache: dict[int, tuple[FunctionConfig, AsyncSettings]] = {}
        self._stopping = False
        self.delivered = 0
        self.failed = 0

    @property
    def store(self) -> Store:
        if self._store is None:
            store = getattr(self.fleet, "store", None)
            if store is None:
                raise RuntimeError("the async queue needs the store: attach StoreService before AsyncQueue")
            self._store = store
        return self._store

    # -- service lifecycle --------------------------------------------------------------

    async def start(self, fleet: Fleet) -> None:
        self.fleet = fleet
        if self.settings is None:
            self.settings = QueueSettings.from_config(fleet.config)
        for function in fleet.functions.values():
            self.function_settings(function)  # a bad EventInvokeConfig fails the start, with its line
        fleet.async_queue = self  # type: ignore[attr-defined]
        self._wake = asyncio.Event()
        counts = await self.store.call(lambda c: c.execute(
            "SELECT function, COUNT(*) FROM dead_letters WHERE redriven_at IS NULL GROUP BY function").fetchall())
        for function, count in counts:
            self._queue(function).dlq = count
        fleet.snapshot_providers["async"] = self.snapshot
        self._tasks = [asyncio.create_task(self._dispatch(), name="lambdatop-async-dispatcher")]
        if self.adopt:
            await self._adopt()
            self._tasks.append(asyncio.create_task(self._adopt_periodically(), name="lambdatop-async-adopter"))

    async def stop(self) -> None:
        """Stop dispatching; in-flight deliveries finish (the fleet drains them first), queued events stay in the store."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._deliveries:
            await asyncio.wait(self._deliveries, timeout=30)
        if self.fleet is not None:
            self.fleet.snapshot_providers.pop("async", None)
        run_id = self.store.run_id
        # Release what we own so the next run adopts it at once.
        await self.store.call(lambda c: c.execute("UPDATE async_events SET owner_run = NULL WHERE owner_run = ?", (run_id,)))
        for q in self.queues.values():
            for event in q.events.values():
                for waiter in event.waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    async def _adopt(self) -> None:
        """Take over queued events whose run is gone (so none waits for a process that will never come back)."""
        run_id = self.store.run_id

        def adopt(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            mine_or_live = [run_id] + [
                row[0] for row in conn.execute("SELECT id, pid FROM runs WHERE ended_at IS NULL AND id != ?", (run_id,))
                if process_alive(row[1])
            ]
            marks = ",".join("?" * len(mine_or_live))
            rows = conn.execute(
                "SELECT request_id, function, payload, trigger, trace, accepted_at, next_attempt_at, attempts, throttles, "
                f"last_error_type, last_error_message FROM async_events WHERE owner_run IS NULL OR owner_run NOT IN ({marks}) "
                "ORDER BY accepted_at", mine_or_live,
            ).fetchall()
            conn.executemany("UPDATE async_events SET owner_run = ? WHERE request_id = ?", [(run_id, row[0]) for row in rows])
            return rows

        rows = await self.store.call(adopt)
        for row in rows:
            event = QueuedEvent(*row)
            if any(event.request_id in q.events for q in self.queues.values()):
                continue
            self._schedule(event, max(event.next_attempt_at, time.time()) if event.attempts or event.throttles else time.time())
        if rows:
            assert self.fleet is not None
            self.fleet.bus.publish(FleetEvent("async", f"took over {len(rows)} queued async event(s) left by another run",
                                              time.time(), detail={"count": len(rows)}))

    async def _adopt_periodically(self) -> None:
        """Events queued by short-lived commands (`invoke --async --no-wait`) that ended are picked up while we run."""
        while True:
            await asyncio.sleep(ADOPT_INTERVAL_S)
            try:
                await self._adopt()
            except (StoreError, sqlite3.Error) as exc:
                assert self.fleet is not None
                self.fleet.bus.publish(FleetEvent("error", f"async queue: {exc}", time.time()))

    # -- accepting ------------------------------------------------------------------------

    async def enqueue(
        self,
        function: str,
        payload: bytes,
        *,
        trigger: Trigger | str = Trigger.ASYNC,
        trace: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Validate and durably accept one event; returns its request id once it is committed."""
        fleet = self.fleet
        if fleet is None or not fleet.running or self._stopping:
            raise FleetStopped("lambdatop is not running")
        name = fleet.resolve(function).name  # FunctionNotFound, in Lambda's words
        payload = bytes(payload)
        check_payload(payload, InvocationType.EVENT)
        event = QueuedEvent(request_id or new_request_id(), name, payload, str(trigger), trace, time.time(), time.time())
        try:
            await self.store.call(lambda c: self._insert(c, event))
        except (StoreError, sqlite3.Error) as exc:
            # Not committed, so not accepted: the caller gets a 500 (ServiceException) and may retry.
            raise LambdaServiceError(f"the event could not be queued: {exc}") from exc
        self._schedule(event, event.accepted_at)
        return event.request_id

    def _insert(self, conn: sqlite3.Connection, event: QueuedEvent, source: str | None = None) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO async_events (request_id, function, payload, trigger, trace, accepted_at, next_attempt_at, "
            "attempts, throttles, owner_run, source) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
            (event.request_id, event.function, event.payload, event.trigger, event.trace, event.accepted_at,
             event.next_attempt_at, self.store.run_id, source),
        )

    def settled(self, request_id: str) -> asyncio.Future[InvocationResult | None]:
        """A future for the event's last delivery (the result it settled with; None if it settled without running)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[InvocationResult | None] = loop.create_future()
        for q in self.queues.values():
            event = q.events.get(request_id)
            if event is not None:
                event.waiters.append(future)
                return future
        future.set_result(None)
        return future

    # -- dead letters -----------------------------------------------------------------------

    async def redrive(self, letter_ids: list[int] | None = None) -> list[str]:
        """Queue dead letters again as new events (all not yet redriven when `letter_ids` is None); returns the new request ids."""
        assert self.fleet is not None
        if not self.fleet.running:
            raise FleetStopped("lambdatop is not running")
        run_id = self.store.run_id
        now = time.time()

        def redrive(conn: sqlite3.Connection) -> list[QueuedEvent]:
            sql = "SELECT id, request_id, function, payload, trigger FROM dead_letters WHERE redriven_at IS NULL"
            params: tuple[Any, ...] = ()
            if letter_ids is not None:
                sql += f" AND id IN ({','.join('?' * len(letter_ids))})"
                params = tuple(letter_ids)
            events = []
            for letter_id, _old, function, payload, trigger in conn.execute(sql + " ORDER BY id", params).fetchall():
                event = QueuedEvent(new_request_id(), function, payload, trigger or str(Trigger.ASYNC), None, now, now)
                conn.execute(
                    "INSERT INTO async_events (request_id, function, payload, trigger, accepted_at, next_attempt_at, owner_run, source) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (event.request_id, function, payload, event.trigger, now, now, run_id, f"redrive:{letter_id}"),
                )
                conn.execute("UPDATE dead_letters SET redriven_at = ?, redrive_request_id = ? WHERE id = ?",
                             (now, event.request_id, letter_id))
                events.append(event)
            return events

        events = await self.store.call(redrive)
        for event in events:
            q = self._queue(event.function)
            q.dlq = max(0, q.dlq - 1)
            self._schedule(event, now)
        return [e.request_id for e in events]

    # -- the screen ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per function: queue depth, oldest event's age, when the next retry is due, dead letters. O(functions)."""
        now = time.time()
        out = {}
        for name, q in self.queues.items():
            oldest = next(iter(q.events.values()), None)
            retries = [e.next_attempt_at for e in q.retrying.values()]
            out[name] = {
                "queue_depth": len(q.events),
                "in_flight": q.in_flight,
                "oldest_age_s": (now - oldest.accepted_at) if oldest else None,
                "next_retry_at": min(retries) if retries else None,
                "dlq": q.dlq,
            }
        return out

    # -- dispatching ------------------------------------------------------------------------------

    def _queue(self, function: str) -> _FunctionQueue:
        q = self.queues.get(function)
        if q is None:
            q = self.queues[function] = _FunctionQueue()
        return q

    def _schedule(self, event: QueuedEvent, at: float) -> None:
        event.next_attempt_at = at
        event.in_flight = False
        q = self._queue(event.function)
        q.events.setdefault(event.request_id, event)
        if event.attempts or event.throttles:
            q.retrying[event.request_id] = event
        heapq.heappush(self._heap, (at, next(self._seq), event))
        self._wake.set()

    def function_settings(self, function: FunctionConfig) -> AsyncSettings:
        cached = self._settings_cache.get(id(function))
        if cached is None or cached[0] is not function:
            cached = (function, AsyncSettings.of(function))
            self._settings_cache[id(function)] = cached
        return cached[1]

    def _slots(self, function: str) -> int:
        assert self.fleet is not None and self.settings is not None
        return max(1, min(self.settings.max_concurrency, self.fleet.gate.limit_for(function)))

    async def _dispatch(self) -> None:
        while True:
            now = time.time()
            while self._heap and self._heap[0][0] <= now:
                _, _, event = heapq.heappop(self._heap)
                if event.next_attempt_at > now or event.in_flight:
                    continue  # rescheduled since; a newer heap entry stands for it
                q = self._queue(event.function)
                q.retrying.pop(event.request_id, None)
                q.ready.append(event)
                event.in_flight = True  # claimed: waiting for a slot counts as on its way
            for name, q in self.queues.items():
                while q.ready and q.in_flight < self._slots(name):
                    self._start(q.ready.popleft(), q)
            self._wake.clear()
            timeout = max(0.0, self._heap[0][0] - time.time()) if self._heap else None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    def _start(self, event: QueuedEvent, q: _FunctionQueue) -> None:
        q.in_flight += 1
        task = asyncio.create_task(self._deliver(event), name=f"lambdatop-async-{event.request_id}")
        self._deliveries.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._deliveries.discard(t)
            q.in_flight -= 1
            self._wake.set()

        task.add_done_callback(done)

    async def _deliver(self, event: QueuedEvent) -> None:
        assert self.fleet is not None and self.settings is not None
        fleet, scale = self.fleet, self.settings.delay_scale
        try:
            function = fleet.resolve(event.function)
            settings = self.function_settings(function)
        except FunctionNotFound as exc:
            # Removed by a reload: keep trying (it may come back) until the event is too old (Lambda's default age).
            await self._retry_later(event, AsyncSettings(), exc.code, exc.message)
            return
        except ConfigError as exc:
            await self._retry_later(event, AsyncSettings(), "InvalidEventInvokeConfig", str(exc))
            return
        if self._stopping or not fleet.running:
            return
        if time.time() > event.accepted_at + settings.max_event_age_s:
            # Waited in the queue (or in a store lambdatop was not running on) longer than its maximum age.
            await self._fail(event, settings, Condition.EVENT_AGE_EXCEEDED, None, 500, "EventAgeExceeded",
                             f"the event is older than MaximumEventAgeInSeconds ({settings.max_event_age_s} s)")
            return
        try:
            result = await fleet.invoke(event.function, event.payload, invocation_type=InvocationType.EVENT,
                                        trigger=event.trigger, trace=event.trace, request_id=event.request_id,
                                        queued_at=event.accepted_at)
        except Throttled as throttle:
            if fleet.gate.limit_for(event.function) == 0:
                await self._fail(event, settings, Condition.ZERO_RESERVED_CONCURRENCY, None, 429, throttle.code,
                                 f"Rate Exceeded. ({throttle.reason})")
            else:
                await self._retry_later(event, settings, throttle.code, f"Rate Exceeded. ({throttle.reason})")
            return
        except FleetStopped:
            return  # stays queued in the store; the next run delivers it
        except LambdaServiceError as exc:
            await self._retry_later(event, settings, exc.code, exc.message)
            return
        except Exception as exc:  # noqa: BLE001 - a system error: back off and try again, never drop the event
            await self._retry_later(event, settings, type(exc).__name__, str(exc))
            return
        event.attempts += 1
        event.throttles = 0
        record = result.record
        if record.status is InvocationStatus.SUCCESS:
            await self._succeed(event, settings, result)
        elif event.attempts > settings.max_retry_attempts:
            await self._fail(event, settings, Condition.RETRIES_EXHAUSTED, result, 200, record.error_type, record.error_message)
        else:
            delay = function_error_delay(event.attempts, scale)
            if time.time() + delay > event.accepted_at + settings.max_event_age_s:
                await self._fail(event, settings, Condition.EVENT_AGE_EXCEEDED, result, 200, record.error_type, record.error_message)
            else:
                self._persist_retry(event, time.time() + delay, record.error_type, record.error_message, result)
                self._schedule(event, time.time() + delay)

    async def _retry_later(self, event: QueuedEvent, settings: AsyncSettings, error_type: str, message: str) -> None:
        """A throttle or system error: back on the queue with exponential back-off, until the event is too old."""
        assert self.settings is not None
        event.throttles += 1
        delay = throttle_delay(event.throttles, self.settings.delay_scale)
        if time.time() + delay > event.accepted_at + settings.max_event_age_s:
            await self._fail(event, settings, Condition.EVENT_AGE_EXCEEDED, None, 429 if "TooMany" in error_type else 500,
                             error_type, message)
            return
        self._persist_retry(event, time.time() + delay, error_type, message, None)
        self._schedule(event, time.time() + delay)

    def _persist_retry(self, event: QueuedEvent, at: float, error_type: str | None, message: str | None,
                       result: InvocationResult | None) -> None:
        event.last_error_type, event.last_error_message = error_type, message
        values = (at, event.attempts, event.throttles, error_type, message, event.request_id)
        store = self.store

        def apply(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE async_events SET next_attempt_at = ?, attempts = ?, throttles = ?, last_error_type = ?, "
                         "last_error_message = ? WHERE request_id = ?", values)

        if result is not None:
            store.write(result)  # the attempt's record lands before (or with) the retry state
        store.submit(apply)

    async def _succeed(self, event: QueuedEvent, settings: AsyncSettings, result: InvocationResult) -> None:
        self.delivered += 1
        sends = []
        if settings.on_success is not None:
            sends.append((settings.on_success, self._record(event, Condition.SUCCESS, result)))
        await self._settle(event, result, sends, dead_letter=None)

    async def _fail(self, event: QueuedEvent, settings: AsyncSettings, condition: str, result: InvocationResult | None,
                    error_code: int, error_type: str | None, message: str | None) -> None:
        self.failed += 1
        sends: list[tuple[Target, Any]] = []
        record = self._record(event, condition, result)
        if settings.on_failure is not None:
            sends.append((settings.on_failure, record))
        if settings.dead_letter is not None:
            sends.append((settings.dead_letter, ("dlq", dead_letter_attributes(event.request_id, error_code, message or ""))))
        letter = (condition, error_code, error_type, message)
        await self._settle(event, result, sends, dead_letter=letter)
        self._queue(event.function).dlq += 1
        assert self.fleet is not None
        self.fleet.bus.publish(FleetEvent(
            "async", f"{event.function}: event {event.request_id} failed ({condition}: {error_type})", time.time(),
            function=event.function, detail={"request_id": event.request_id, "condition": condition},
        ))

    def _record(self, event: QueuedEvent, condition: str, result: InvocationResult | None) -> dict[str, Any]:
        assert self.fleet is not None
        version = result.record.version if result else "$LATEST"
        arn = self.fleet.config.function_arn(self.fleet.resolve(event.function).function_name or event.function, version) \
            if event.function in self.fleet.pools else self.fleet.config.function_arn(event.function, version)
        return invocation_record(
            request_id=event.request_id, function_arn=arn, condition=condition,
            approximate_invoke_count=max(event.attempts, 1) if condition != Condition.ZERO_RESERVED_CONCURRENCY else 0,
            request_payload=event.payload, response_payload=result.response if result else None,
            function_error=result.function_error if result else None, executed_version=version,
        )

    async def _settle(self, event: QueuedEvent, result: InvocationResult | None, sends: list[tuple[Target, Any]],
                      dead_letter: tuple[str, int, str | None, str | None] | None) -> None:
        """One transaction: the last attempt's record, the destinations' messages/events, the dead letter, the queue row gone."""
        assert self.fleet is not None
        store, now = self.store, time.time()
        follow_ups: list[QueuedEvent] = []
        routed: list[str] = []
        for target, body in sends:
            if target.kind == "function" and target.name in self.fleet.pools and not isinstance(body, tuple):
                follow_ups.append(QueuedEvent(new_request_id(), self.fleet.resolve(target.name).name,
                                              json.dumps(body).encode(), DESTINATION_TRIGGER, None, now, now))
            routed.append(target.describe())
        if dead_letter is not None and not sends:
            routed.append("nowhere (no DLQ or on-failure destination)")
        if result is not None:
            store.write(result)  # queued before the op below, so committed in the same or an earlier batch

        def apply(conn: sqlite3.Connection) -> None:
            for follow_up in follow_ups:
                self._insert(conn, follow_up, source=f"destination:{event.request_id}")
            for target, body in sends:
                if target.kind == "function" and any(f.function == target.name for f in follow_ups) and not isinstance(body, tuple):
                    continue
                if isinstance(body, tuple):  # the DLQ: the original event, with the error in attributes
                    text, attributes = event.payload.decode("utf-8", "replace"), body[1]
                else:
                    text, attributes = json.dumps(body), {}
                conn.execute(
                    "INSERT INTO messages (queue, body, attributes, sent_at, source_function, request_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (target.name, text, json.dumps(attributes), now, event.function, event.request_id),
                )
            if dead_letter is not None:
                condition, code, error_type, message = dead_letter
                conn.execute(
                    "INSERT INTO dead_letters (request_id, function, payload, trigger, condition, error_code, error_type, "
                    "error_message, attempts, accepted_at, failed_at, routed_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (event.request_id, event.function, event.payload, event.trigger, condition, code, error_type, message,
                     event.attempts, event.accepted_at, now, json.dumps(routed)),
                )
            conn.execute("DELETE FROM async_events WHERE request_id = ?", (event.request_id,))

        # Destination events must be durable before they are dispatched; the rest may ride the next batch.
        if follow_ups:
            await store.call(apply)
        else:
            store.submit(apply)
        q = self._queue(event.function)
        q.events.pop(event.request_id, None)
        q.retrying.pop(event.request_id, None)
        for waiter in event.waiters:
            if not waiter.done():
                waiter.set_result(result)
        for follow_up in follow_ups:
            follow_up.next_attempt_at = now
            self._schedule(follow_up, now)




async def deliver_once(
    fleet: Fleet, function: str, payload: bytes, *, trigger: Trigger | str = Trigger.ASYNC, trace: str | None = None,
    request_id: str | None = None,
) -> str:
    """An Event invocation without the store: validated, then run once in the background (no durability, no retries)."""
    if not fleet.running:
        raise FleetStopped("lambdatop is not running")
    fleet.resolve(function)
    payload = bytes(payload)
    check_payload(payload, InvocationType.EVENT)
    rid = request_id or new_request_id()
    accepted_at = time.time()

    async def run() -> None:
        try:
            await fleet.invoke(function, payload, invocation_type=InvocationType.EVENT, trigger=trigger, trace=trace,
                               request_id=rid, queued_at=accepted_at)
        except LambdaServiceError:
            pass  # throttled or stopping: without the store there is no queue to retry from (the record shows it)

    task = asyncio.create_task(run(), name=f"lambdatop-event-{rid}")
    _background.add(task)
    task.add_done_callback(_background.discard)
    return rid


_background: set[asyncio.Task[None]] = set()
