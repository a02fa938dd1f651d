"""External extensions (the Extensions API, 2020-01-01) of one Runtime API environment.

An extension is an executable in a layer's `extensions/` folder. The zygote's
child starts each one beside the runtime (worker/exec_runtime.py), in the
runtime's process group, with the same environment. Each registers
(`POST /extension/register`, `Lambda-Extension-Name`, `{"events": [...]}`)
and then loops on `GET /extension/event/next`:

    Init    ends when the runtime and every extension started have called next (each registered first)
    INVOKE  goes to the extensions that asked for it when the runtime gets the invoke; the invocation
            (its REPORT, its Duration) ends when the runtime has answered and each of them has called next
    SHUTDOWN goes to those that asked for it when the environment goes (`shutdownReason`: spindown,
            timeout, failure); they get SHUTDOWN_GRACE_S to call next again, then the group is killed

This module is the bookkeeping; the HTTP routes are runtime/api/runtime_api.py's,
the invoke flow runtime_channel.py's. Not done: the Telemetry and Logs APIs,
extension init/exit errors, internal extensions.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from lambdatop.runtime.worker.messages import InvokeRequest

SHUTDOWN_GRACE_S = 2.0  # Lambda: 2,000 ms with one or more external extensions (LAMBDA.md §1)
EVENTS = ("INVOKE", "SHUTDOWN")


@dataclass(slots=True)
class Extension:
    name: str
    events: frozenset[str]
    identifier: str = field(default_factory=lambda: str(uuid.uuid4()))
    ready: bool = False  # called next since its last event
    parked: asyncio.Future[dict[str, Any]] | None = None
    queued: list[dict[str, Any]] = field(default_factory=list)


class ExtensionRegistry:
    """The extensions of one environment: who registered, who is waiting in next, what each is owed."""

    def __init__(self, expected: int, function: dict[str, str]) -> None:
        self.expected = expected  # how many were started
        self.function = function  # functionName, functionVersion, handler: the register response
        self.by_id: dict[str, Extension] = {}
        self.shutting_down = False

    @property
    def all_ready(self) -> bool:
        """Every extension started has registered and is waiting in next (Init, or an invoke, may end)."""
        return len(self.by_id) >= self.expected and all(ext.ready for ext in self.by_id.values())

    def wants(self, event: str) -> bool:
        return any(event in ext.events for ext in self.by_id.values())

    def register(self, name: str | None, body: bytes) -> tuple[int, dict[str, Any], str | None]:
        """(status, body, identifier) for POST /extension/register."""
        if not name:
            return 403, {"errorMessage": "Empty extension name", "errorType": "Extension.InvalidExtensionName"}, None
        try:
            request = json.loads(body or b"{}")
            events = [str(event) for event in request.get("events", [])]
        except (ValueError, AttributeError, TypeError) as exc:
            return 403, {"errorMessage": str(exc), "errorType": "InvalidRequestFormat"}, None
        for event in events:
            if event not in EVENTS:
                return 403, {"errorMessage": f"{event}: ErrorInvalidEventType", "errorType": "Extension.InvalidEventType"}, None
        extension = Extension(name, frozenset(events))
        self.by_id[extension.identifier] = extension
        return 200, dict(self.function), extension.identifier

    def next_event(self, identifier: str | None, loop: asyncio.AbstractEventLoop) -> tuple[int, dict[str, Any]] | asyncio.Future[dict[str, Any]]:
        """GET /extension/event/next: an event queued for it, a future for the next, or a refusal."""
        if not identifier:
            return 403, {"errorMessage": "Missing Lambda-Extension-Identifier header", "errorType": "Extension.MissingExtensionIdentifier"}
        extension = self.by_id.get(identifier)
        if extension is None:
            return 403, {"errorMessage": "Unknown extension " + identifier, "errorType": "Extension.UnknownExtensionIdentifier"}
        extension.ready = True
        waiter: asyncio.Future[dict[str, Any]] = loop.create_future()
        if extension.queued:
            extension.ready = False
            waiter.set_result(extension.queued.pop(0))
        else:
            extension.parked = waiter
        return waiter

    def invoke(self, request: InvokeRequest, deadline_ms: int) -> None:
        self._send("INVOKE", {
            "eventType": "INVOKE", "deadlineMs": deadline_ms, "requestId": request.request_id,
            "invokedFunctionArn": request.invoked_function_arn,
            "tracing": {"type": "X-Amzn-Trace-Id", "value": request.trace_header or ""},
        })

    def shutdown(self, reason: str) -> bool:
        """Send SHUTDOWN; True if anyone asked for it (then wait for `all_ready`, up to the grace period)."""
        self.shutting_down = True
        if not self.wants("SHUTDOWN"):
            return False
        self._send("SHUTDOWN", {"eventType": "SHUTDOWN", "shutdownReason": reason,
                                "deadlineMs": int((time.time() + SHUTDOWN_GRACE_S) * 1000)})
        return True

    def release_all(self) -> None:
        """The environment is gone: nobody waits in next any longer."""
        for extension in self.by_id.values():
            if extension.parked is not None and not extension.parked.done():
                extension.parked.cancel()
            extension.parked = None

    def _send(self, kind: str, event: dict[str, Any]) -> None:
        for extension in self.by_id.values():
            if kind not in extension.events:
                continue
            extension.ready = False
            if extension.parked is not None and not extension.parked.done():
                extension.parked.set_result(event)
                extension.parked = None
            else:
                extension.queued.append(event)
