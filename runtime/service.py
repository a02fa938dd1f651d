"""What a service attached to the fleet is, and what it may offer the rest of the run.

A service (the store, the async queue, the endpoint, the watcher...) runs beside
the pool for the fleet's lifetime: `Fleet.add_service` attaches it, the fleet
starts them in order and stops them in reverse. The fleet finds what they offer
(the store, the queue, the endpoint's URL, traces, alarms, schedules, resources) by these
protocols, so no service sets anything on the fleet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # the services themselves import the fleet; typed here only
    from lambdatop.runtime.async_invoke.queue import AsyncQueue
    from lambdatop.runtime.fleet import Fleet
    from lambdatop.runtime.store.writer import Store


@runtime_checkable
class StoreHolder(Protocol):
    """A service that keeps the durable store (the store service): None until it has opened it."""

    def opened_store(self) -> Store | None: ...


@runtime_checkable
class EventQueue(Protocol):
    """A service that takes asynchronous events (the async queue): None until it accepts them."""

    def accepting_queue(self) -> AsyncQueue | None: ...


@runtime_checkable
class Endpoint(Protocol):
    """A service that serves the Lambda API over HTTP (the endpoint): its URL while it listens."""

    def listening_url(self) -> str | None: ...


@runtime_checkable
class TraceSource(Protocol):
    """A service that holds live traces (the observability service)."""

    def trace_documents(self, request_id: str) -> list[dict[str, Any]]: ...


@runtime_checkable
class AlarmSource(Protocol):
    """A service that evaluates alarms (the observability service): an alarm's state by name, None if unknown."""

    def alarm_state(self, name: str) -> str | None: ...


@runtime_checkable
class ScheduleSource(Protocol):
    """A service that fires schedules (the schedules service)."""

    async def fire_now(self, name: str) -> list[str]: ...


@runtime_checkable
class ResourceSink(Protocol):
    """A service that holds the template's AWS resources and can put data into them (the AWS service)."""

    async def send(self, logical_id: str, payload: Any) -> str: ...


class Service(Protocol):
    """Something that runs beside the pool for the fleet's lifetime (store, queue, endpoint, watcher...)."""

    async def start(self, fleet: Fleet) -> None: ...

    async def stop(self) -> None: ...
