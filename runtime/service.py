"""What a service attached to the fleet is, and what it may offer the rest of the run.

A service (the store, the async queue, the endpoint, the watcher...) runs beside
the pool for the fleet's lifetime: `Fleet.add_service` attaches it, the fleet
starts them in order and stops them in reverse. The fleet finds what they offer
(the store, the queue, the endpoint's URL, traces, alarms, schedules, resources) by these
protocols, so no service sets anything on the fleet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lambdatop.runtime.errors import ScheduleNotFound, SidecarUnavailable

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
    """A service that evaluates alarms (the observability service): an alarm's state by name, None if unknown,
    and whether it is in ALARM or has gone into it since a time."""

    def alarm_state(self, name: str) -> str | None: ...

    def alarm_fired_since(self, name: str, since: float) -> bool: ...


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


class ServiceLookups:
    """What the attached services offer the rest of the run, found among them by the protocols above.

    The fleet's side of this page (`Fleet` inherits it): no service sets anything on the fleet, and
    a run without a service answers None, an empty list, or the error that says it is not running.
    """

    services: list[Service]

    @property
    def store(self) -> Store | None:
        """The durable store, once the store service has opened it (None in a run without one)."""
        return next((store for s in self.services if isinstance(s, StoreHolder) and (store := s.opened_store())), None)

    @property
    def async_queue(self) -> AsyncQueue | None:
        """The durable async queue, once it accepts events (None without the store)."""
        return next((queue for s in self.services if isinstance(s, EventQueue) and (queue := s.accepting_queue())), None)

    @property
    def endpoint(self) -> str | None:
        """The Lambda HTTP endpoint's URL while it listens."""
        return next((url for s in self.services if isinstance(s, Endpoint) and (url := s.listening_url())), None)

    async def fire_schedule(self, name: str) -> list[str]:
        """Fire a schedule now, as its timer would; the request ids accepted. Raises ScheduleNotFound."""
        for service in self.services:
            if isinstance(service, ScheduleSource):
                return await service.fire_now(name)
        raise ScheduleNotFound(f"no schedules run here: {name!r} cannot fire")

    async def send_to_resource(self, logical_id: str, payload: Any) -> str:
        """Send a message / put an object / publish / put an event or item into a template resource;
        what was done, in words. Raises SidecarUnavailable without the AWS services, ValueError for
        a resource they do not hold."""
        for service in self.services:
            if isinstance(service, ResourceSink):
                return await service.send(logical_id, payload)
        raise SidecarUnavailable(f"no AWS services run here: nothing can be sent to {logical_id!r}")

    def alarm_state(self, name: str) -> str | None:
        """A lambdatop alarm's state by name (None without the observability service, or for an unknown name)."""
        return next((state for s in self.services if isinstance(s, AlarmSource) and (state := s.alarm_state(name))), None)

    def alarm_fired_since(self, name: str, since: float) -> bool:
        """Whether a lambdatop alarm is in ALARM or went into it at `since` or later (False for an unknown name)."""
        return any(s.alarm_fired_since(name, since) for s in self.services if isinstance(s, AlarmSource))

    def trace_documents(self, request_id: str) -> list[dict[str, Any]]:
        """The live trace of a request as X-Ray documents (empty without the observability service, or once forgotten)."""
        for service in self.services:
            if isinstance(service, TraceSource):
                documents = service.trace_documents(request_id)
                if documents:
                    return documents
        return []
