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
import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.config import FunctionConfig
from lambdatop.runtime.config.async_settings import AsyncSettings, QueueSettings
from lambdatop.runtime.async_invoke import journal, policy
from lambdatop.runtime.async_invoke.destinations import (
    DESTINATION_TRIGGER,
    Condition,
    dead_letter_attributes,
    invocation_record,
)
from lambdatop.runtime.async_invoke.dispatcher import Dispatcher, FunctionQueue
from lambdatop.runtime.async_invoke.journal import DeadLetter, QueuedEvent, Send
from lambdatop.runtime.async_invoke.policy import Decision, Verdict
from lambdatop.runtime.errors import ConfigError, FleetStopped, FunctionNotFound, LambdaServiceError, Throttled
from lambdatop.runtime.identifiers import request_id as new_request_id
from lambdatop.runtime.execution.requests import check_payload
from lambdatop.runtime.records import InvocationResult, InvocationStatus, InvocationType, Trigger
from lambdatop.runtime.snapshot import AsyncQueueView
from lambdatop.runtime.store.writer import Store
from lambdatop.runtime.errors import StoreError

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

ADOPT_INTERVAL_S = 2.0  # how often a long-running lambdatop looks for events other runs left queued


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
        self.dispatcher = Dispatcher(self._deliver, self._slots)
        self._tasks: list[asyncio.Task[None]] = []
        self._settings_cache: dict[int, tuple[FunctionConfig, AsyncSettings]] = {}
        self._stopping = False
        self._accepting = False  # from when the start has checked every function's settings
        self.delivered = 0
        self.failed = 0

    @property
    def queues(self) -> dict[str, FunctionQueue]:
        """Per function, the events not settled yet (the dispatcher's)."""
        return self.dispatcher.queues

    @property
    def store(self) -> Store:
        if self._store is None:
            store = self.fleet.store if self.fleet is not None else None
            if store is None:
                raise RuntimeError("the async queue needs the store: attach StoreService before AsyncQueue")
            self._store = store
        return self._store

    # -- service lifecycle --------------------------------------------------------------

    def accepting_queue(self) -> AsyncQueue | None:
        return self if self._accepting else None

    async def start(self, fleet: Fleet) -> None:
        self.fleet = fleet
        if self.settings is None:
            self.settings = QueueSettings.from_config(fleet.config)
        for function in fleet.functions.values():
            self.function_settings(function)  # a bad EventInvokeConfig fails the start, with its line
        self._accepting = True
        for function, count in await self.store.call(journal.dead_letter_counts):
            self.dispatcher.queue(function).dlq = count
        fleet.snapshot_providers["async"] = self.snapshot
        self._tasks = [asyncio.create_task(self.dispatcher.run(), name="lambdatop-async-dispatcher")]
        if self.adopt:
            await self._adopt()
            self._tasks.append(asyncio.create_task(self._adopt_periodically(), name="lambdatop-async-adopter"))

    async def stop(self) -> None:
        """Stop dispatching; in-flight deliveries finish (the fleet drains them first), queued events stay in the store."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.dispatcher.wait_for_deliveries(30)
        if self.fleet is not None:
            self.fleet.snapshot_providers.pop("async", None)
        run_id = self.store.run_id
        await self.store.call(lambda conn: journal.release(conn, run_id))
        for event in self.dispatcher.events():
            for waiter in event.waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _adopt(self) -> None:
        """Take over queued events whose run is gone (so none waits for a process that will never come back)."""
        run_id = self.store.run_id
        events = await self.store.call(lambda conn: journal.adopt(conn, run_id))
        for event in events:
            if self.dispatcher.find(event.request_id) is not None:
                continue
            self.dispatcher.schedule(event, max(event.next_attempt_at, time.time()) if event.attempts or event.throttles else time.time())
        if events:
            assert self.fleet is not None
            self.fleet.bus.publish(FleetEvent("async", f"took over {len(events)} queued async event(s) left by another run",
                                              time.time(), detail={"count": len(events)}))

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
        source_arn: str | None = None,
    ) -> str:
        """Validate and durably accept one event; returns its request id once it is committed."""
        fleet = self.fleet
        if fleet is None or not fleet.running or self._stopping:
            raise FleetStopped("lambdatop is not running")
        pool, qualifier = fleet.invoker.resolve(function)  # FunctionNotFound, in Lambda's words
        payload = bytes(payload)
        check_payload(payload, InvocationType.EVENT)
        event = QueuedEvent(request_id or new_request_id(), pool.name, payload, str(trigger), trace, time.time(), time.time(),
                            source_arn=source_arn, qualifier=qualifier if qualifier != "$LATEST" else None)
        try:
            await self.store.call(lambda conn: journal.insert(conn, event, self.store.run_id))
        except (StoreError, sqlite3.Error) as exc:
            # Not committed, so not accepted: the caller gets a 500 (ServiceException) and may retry.
            raise LambdaServiceError(f"the event could not be queued: {exc}") from exc
        self.dispatcher.schedule(event, event.accepted_at)
        return event.request_id

    def settled(self, request_id: str) -> asyncio.Future[InvocationResult | None]:
        """A future for the event's last delivery (the result it settled with; None if it settled without running)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[InvocationResult | None] = loop.create_future()
        event = self.dispatcher.find(request_id)
        if event is not None:
            event.waiters.append(future)
        else:
            future.set_result(None)
        return future

    # -- dead letters -----------------------------------------------------------------------

    async def redrive(self, letter_ids: list[int] | None = None) -> list[str]:
        """Queue dead letters again as new events (all not yet redriven when `letter_ids` is None); returns the new request ids."""
        assert self.fleet is not None
        if not self.fleet.running:
            raise FleetStopped("lambdatop is not running")
        run_id, now = self.store.run_id, time.time()

        def redrive(conn: sqlite3.Connection) -> list[QueuedEvent]:
            return journal.redrive(conn, letter_ids, owner_run=run_id, now=now, new_id=new_request_id)

        events = await self.store.call(redrive)
        for event in events:
            q = self.dispatcher.queue(event.function)
            q.dlq = max(0, q.dlq - 1)
            self.dispatcher.schedule(event, now)
        return [e.request_id for e in events]

    # -- the screen ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, AsyncQueueView]:
        """Per function: queue depth, oldest event's age, when the next retry is due, dead letters. O(functions)."""
        now = time.time()
        out = {}
        for name, q in self.dispatcher.queues.items():
            oldest = next(iter(q.events.values()), None)
            retries = [e.next_attempt_at for e in q.retrying.values()]
            out[name] = AsyncQueueView(
                queue_depth=len(q.events), in_flight=q.in_flight,
                oldest_age_s=(now - oldest.accepted_at) if oldest else None,
                next_retry_at=min(retries) if retries else None, dlq=q.dlq,
            )
        return out

    def function_settings(self, function: FunctionConfig) -> AsyncSettings:
        cached = self._settings_cache.get(id(function))
        if cached is None or cached[0] is not function:
            cached = (function, AsyncSettings.of(function))
            self._settings_cache[id(function)] = cached
        return cached[1]

    def _slots(self, function: str) -> int:
        assert self.fleet is not None and self.settings is not None
        return max(1, min(self.settings.max_concurrency, self.fleet.gate.limit_for(function)))

    async def _deliver(self, event: QueuedEvent) -> None:
        """One attempt: run the function, then act on what the retry policy decides."""
        assert self.fleet is not None and self.settings is not None
        fleet = self.fleet
        try:
            settings = self.function_settings(fleet.resolve(event.function))
        except FunctionNotFound as exc:
            # Removed by a reload: keep trying (it may come back) until the event is too old (Lambda's default age).
            await self._refused(event, AsyncSettings(), exc.code, exc.message)
            return
        except ConfigError as exc:
            await self._refused(event, AsyncSettings(), "InvalidEventInvokeConfig", str(exc))
            return
        if self._stopping or not fleet.running:
            return
        too_old = policy.expired(event.accepted_at, time.time(), settings)
        if too_old is not None:
            # Waited in the queue (or in a store lambdatop was not running on) longer than its maximum age.
            await self._act(event, settings, too_old, None)
            return
        try:
            result = await fleet.invoke(event.function, event.payload, invocation_type=InvocationType.EVENT,
                                        trigger=event.trigger, trace=event.trace, request_id=event.request_id,
                                        queued_at=event.accepted_at, source_arn=event.source_arn, qualifier=event.qualifier)
        except Throttled as throttle:
            await self._refused(event, settings, throttle.code, f"Rate Exceeded. ({throttle.reason})",
                                zero_reserved=fleet.gate.limit_for(event.function) == 0)
            return
        except FleetStopped:
            return  # stays queued in the store; the next run delivers it
        except LambdaServiceError as exc:
            await self._refused(event, settings, exc.code, exc.message)
            return
        except Exception as exc:  # noqa: BLE001 - a system error: back off and try again, never drop the event
            await self._refused(event, settings, type(exc).__name__, str(exc))
            return
        event.attempts += 1
        event.throttles = 0
        record = result.record
        decision = policy.after_result(
            succeeded=record.status is InvocationStatus.SUCCESS, attempts=event.attempts, accepted_at=event.accepted_at,
            now=time.time(), settings=settings, scale=self.settings.delay_scale, error_type=record.error_type,
            message=record.error_message,
        )
        await self._act(event, settings, decision, result)

    async def _refused(self, event: QueuedEvent, settings: AsyncSettings, error_type: str, message: str, *,
                       zero_reserved: bool = False) -> None:
        """A throttle or system error: the function did not run."""
        assert self.settings is not None
        event.throttles += 1
        decision = policy.after_refusal(
            throttles=event.throttles, accepted_at=event.accepted_at, now=time.time(), settings=settings,
            scale=self.settings.delay_scale, error_type=error_type, message=message, zero_reserved=zero_reserved,
        )
        await self._act(event, settings, decision, None)

    async def _act(self, event: QueuedEvent, settings: AsyncSettings, decision: Decision,
                   result: InvocationResult | None) -> None:
        if decision.verdict is Verdict.SETTLE:
            assert result is not None
            await self._succeed(event, settings, result)
        elif decision.verdict is Verdict.FAIL:
            assert decision.condition is not None
            await self._fail(event, settings, result, DeadLetter(decision.condition, decision.error_code,
                                                                  decision.error_type, decision.message))
        else:
            assert decision.at is not None
            self._retry_at(event, decision.at, decision.error_type, decision.message, result)

    def _retry_at(self, event: QueuedEvent, at: float, error_type: str | None, message: str | None,
                  result: InvocationResult | None) -> None:
        event.last_error_type, event.last_error_message = error_type, message
        event.next_attempt_at = at
        if result is not None:
            self.store.write(result)  # the attempt's record lands before (or with) the retry state
        state = journal.retry_state(event)
        self.store.submit(lambda conn: journal.persist_retry(conn, state))
        self.dispatcher.schedule(event, at)

    async def _succeed(self, event: QueuedEvent, settings: AsyncSettings, result: InvocationResult) -> None:
        self.delivered += 1
        sends: list[Send] = []
        if settings.on_success is not None:
            sends.append((settings.on_success, self._record(event, Condition.SUCCESS, result)))
        await self._settle(event, result, sends, dead_letter=None)

    async def _fail(self, event: QueuedEvent, settings: AsyncSettings, result: InvocationResult | None,
                    letter: DeadLetter) -> None:
        self.failed += 1
        sends: list[Send] = []
        record = self._record(event, letter.condition, result)
        if settings.on_failure is not None:
            sends.append((settings.on_failure, record))
        if settings.dead_letter is not None:
            attributes = dead_letter_attributes(event.request_id, letter.error_code, letter.message or "")
            sends.append((settings.dead_letter, ("dlq", attributes)))
        await self._settle(event, result, sends, dead_letter=letter)
        self.dispatcher.queue(event.function).dlq += 1
        assert self.fleet is not None
        self.fleet.bus.publish(FleetEvent(
            "async", f"{event.function}: event {event.request_id} failed ({letter.condition}: {letter.error_type})",
            time.time(), function=event.function, detail={"request_id": event.request_id, "condition": letter.condition},
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

    async def _settle(self, event: QueuedEvent, result: InvocationResult | None, sends: list[Send],
                      dead_letter: DeadLetter | None) -> None:
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
        run_id = store.run_id

        def apply(conn: sqlite3.Connection) -> None:
            journal.settle(conn, event, sends=sends, follow_ups=follow_ups, dead_letter=dead_letter, routed=routed,
                           owner_run=run_id, now=now)

        # Destination events must be durable before they are dispatched; the rest may ride the next batch.
        if follow_ups:
            await store.call(apply)
        else:
            store.submit(apply)
        self.dispatcher.forget(event)
        for waiter in event.waiters:
            if not waiter.done():
                waiter.set_result(result)
        for follow_up in follow_ups:
            self.dispatcher.schedule(follow_up, now)
