"""Record and replay: recorded events out of the store or a JSONL file, run again, optionally compared.

A `RecordedEvent` is what one request sent (function, payload, invocation
type, when) and what it got back (status, error type, response). Event sets
travel as JSONL, one event per line:

    {"function": "hello", "event": {"name": "ada"}, "invocation_type": "RequestResponse",
     "at": 1732492800.123, "request_id": "...", "trigger": "cli",
     "expected": {"status": "success", "error_type": null, "response": {"message": "Hello, ada!"}}}

Only `function` is required (`event` defaults to {}, the type to
RequestResponse). A payload that is not JSON travels as `"event_base64"`.

`replay()` sends them again with the original invocation types and the
original inter-arrival times divided by `speed` (0 = back to back); with
`compare=True` each outcome is checked against what was recorded.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.async_invoke.destinations import DESTINATION_TRIGGER
from lambdatop.runtime.errors import LambdaServiceError, ReplayError, Throttled
from lambdatop.runtime.records import InvocationRecord, InvocationResult, InvocationStatus, InvocationType, Trigger, payload_value

if TYPE_CHECKING:
    from lambdatop.runtime.config import FleetConfig
    from lambdatop.runtime.fleet import Fleet
    from lambdatop.runtime.store.reader import StoredInvocation, StoreReader

REQUEST_ID_PLACEHOLDER = "<request-id>"


@dataclass(slots=True)
class Expected:
    status: str
    error_type: str | None
    response: bytes | None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "error_type": self.error_type, "response": payload_value(self.response)}


@dataclass(slots=True)
class RecordedEvent:
    function: str
    payload: bytes
    invocation_type: str = str(InvocationType.REQUEST_RESPONSE)
    at: float | None = None
    request_id: str | None = None
    trigger: str | None = None
    expected: Expected | None = None

    def to_json(self) -> dict[str, Any]:
        line: dict[str, Any] = {"function": self.function}
        try:
            line["event"] = json.loads(self.payload) if self.payload.strip() else None
        except (ValueError, UnicodeDecodeError):
            line["event_base64"] = base64.b64encode(self.payload).decode()
        line.update(invocation_type=self.invocation_type, at=self.at, request_id=self.request_id, trigger=self.trigger)
        if self.expected is not None:
            line["expected"] = self.expected.to_json()
        return line

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> RecordedEvent:
        if not isinstance(data, dict) or not isinstance(data.get("function"), str):
            raise ReplayError(f"{where}: each line must be a JSON object with a \"function\"")
        if "event_base64" in data:
            payload = base64.b64decode(data["event_base64"])
        else:
            event = data.get("event", data.get("payload", {}))
            payload = b"" if event is None else json.dumps(event).encode()
        kind = data.get("invocation_type") or str(InvocationType.REQUEST_RESPONSE)
        try:
            kind = str(InvocationType(kind))
        except ValueError:
            raise ReplayError(f"{where}: invocation_type must be RequestResponse, Event or DryRun, got {kind!r}") from None
        expected = None
        if isinstance(data.get("expected"), dict):
            raw = data["expected"]
            response = raw.get("response")
            status = str(raw.get("status", "success"))
            if status not in {str(s) for s in InvocationStatus}:
                raise ReplayError(f"{where}: expected.status must be one of {', '.join(map(str, InvocationStatus))}, got {status!r}")
            expected = Expected(status, raw.get("error_type"),
                                None if response is None else json.dumps(response).encode())
        at = data.get("at")
        return cls(data["function"], payload, kind, float(at) if isinstance(at, (int, float)) else None,
                   data.get("request_id"), data.get("trigger"), expected)

    @classmethod
    def from_attempts(cls, attempts: list[StoredInvocation]) -> RecordedEvent:
        """One request from its stored attempts (async retries share a request id): first send, last outcome."""
        first, last = attempts[0], attempts[-1]
        if first.request is not None and first.request_truncated:
            raise ReplayError(f"request {first.request_id}: its event was stored cut at {len(first.request)} of "
                              f"{first.request_size} bytes (store.max_payload_bytes); it cannot be replayed")
        return cls(
            function=first.record.function, payload=first.request or b"", invocation_type=first.record.invocation_type,
            at=first.record.started_at, request_id=first.record.request_id, trigger=first.record.trigger,
            expected=Expected(str(last.record.status), last.record.error_type, last.response),
        )



# -- where event sets come from -------------------------------------------------------------


def read_jsonl(path: Path) -> list[RecordedEvent]:
    events = []
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith(b"#"):
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise ReplayError(f"{path}:{number}: not JSON ({exc})") from exc
        events.append(RecordedEvent.from_json(data, f"{path}:{number}"))
    return events


def write_jsonl(events: Iterable[RecordedEvent]) -> Iterable[str]:
    for event in events:
        yield json.dumps(event.to_json(), separators=(",", ":")) + "\n"


def from_store(
    reader: StoreReader,
    *,
    request_ids: list[str] | None = None,
    run: int | None = None,
    function: str | None = None,
    limit: int | None = None,
) -> list[RecordedEvent]:
    """The requests a selection of the store holds, in the order they were first sent."""
    if request_ids:
        stored = [a for rid in request_ids for a in reader.attempts(rid)]
        missing = [rid for rid in request_ids if not any(s.request_id == rid for s in stored)]
        if missing:
            raise ReplayError(f"no invocation with request id {', '.join(missing)} in {reader.path}")
    else:
        stored = reader.invocations(function=function, run=run, limit=None, newest_first=False, payloads=True)
    groups: dict[str, list[StoredInvocation]] = {}
    for invocation in stored:
        if invocation.record.trigger == DESTINATION_TRIGGER and not request_ids:
            continue
        groups.setdefault(invocation.request_id, []).append(invocation)
    events = [RecordedEvent.from_attempts(attempts) for attempts in groups.values()]
    events.sort(key=lambda e: e.at or 0.0)
    return events[-limit:] if limit else events


# -- replaying --------------------------------------------------------------------------------


@dataclass(slots=True)
class ReplayOutcome:
    index: int
    event: RecordedEvent
    request_id: str | None = None
    result: InvocationResult | None = None
    service_error: LambdaServiceError | None = None
    differences: list[str] = field(default_factory=list)
    compared: bool = False

    @property
    def status(self) -> str:
        if self.service_error is not None:
            return "throttled" if isinstance(self.service_error, Throttled) else self.service_error.code
        if self.result is None:
            return "queued"
        return str(self.result.record.status)

    @property
    def error_type(self) -> str | None:
        if self.service_error is not None:
            return self.service_error.code
        return self.result.record.error_type if self.result else None


async def replay(
    fleet: Fleet,
    events: list[RecordedEvent],
    *,
    speed: float = 1.0,
    concurrency: int = 10,
    compare: bool = False,
    ignore_keys: Iterable[str] = (),
    on_outcome: Callable[[ReplayOutcome], None] | None = None,
) -> list[ReplayOutcome]:
    """Send `events` again in their original order and types, timed by `speed`; returns an outcome per event, in order."""
    if speed < 0:
        raise ValueError("speed must be 0 (as fast as allowed) or more")
    ignored = frozenset(ignore_keys)
    semaphore = asyncio.Semaphore(max(1, concurrency))
    outcomes = [ReplayOutcome(i, event) for i, event in enumerate(events)]
    origin = next((e.at for e in events if e.at is not None), None)
    began = time.monotonic()

    async def one(outcome: ReplayOutcome) -> None:
        try:
            await _send(fleet, outcome)
        finally:
            semaphore.release()
        if compare:
            outcome.differences = differences(outcome, ignored)
            outcome.compared = outcome.event.expected is not None and outcome.event.expected.status != "throttled"
        if on_outcome is not None:
            on_outcome(outcome)

    tasks = []
    for outcome in outcomes:
        if speed > 0 and origin is not None and outcome.event.at is not None:
            delay = (outcome.event.at - origin) / speed - (time.monotonic() - began)
            if delay > 0:
                await asyncio.sleep(delay)
        await semaphore.acquire()  # launched strictly in order: the start order is the recorded order
        tasks.append(asyncio.create_task(one(outcome)))
        await asyncio.sleep(0)  # let it reach the gate before the next one starts
    await asyncio.gather(*tasks)
    return outcomes


async def _send(fleet: Fleet, outcome: ReplayOutcome) -> None:
    event = outcome.event
    try:
        if event.invocation_type == InvocationType.EVENT and fleet.async_queue is not None:
            outcome.request_id = await fleet.enqueue(event.function, event.payload, trigger=Trigger.REPLAY)
            outcome.result = await fleet.async_queue.settled(outcome.request_id)
        else:
            result = await fleet.invoke(event.function, event.payload, invocation_type=event.invocation_type, trigger=Trigger.REPLAY)
            outcome.request_id, outcome.result = result.record.request_id, result
    except LambdaServiceError as exc:
        outcome.service_error = exc
        record = getattr(exc, "record", None)
        if record is not None:
            outcome.request_id = record.request_id


def differences(outcome: ReplayOutcome, ignore_keys: frozenset[str] = frozenset()) -> list[str]:
    """How the replayed outcome differs from the recorded one (status, error type, response); [] when it matches."""
    expected = outcome.event.expected
    if expected is None or expected.status == "throttled" or outcome.event.invocation_type == InvocationType.DRY_RUN:
        return []  # nothing recorded to compare with, or a throttle (it depends on load, not on code)
    found: list[str] = []
    if outcome.status != expected.status:
        found.append(f"status {expected.status} -> {outcome.status}")
    if (outcome.error_type or None) != (expected.error_type or None):
        found.append(f"error type {expected.error_type} -> {outcome.error_type}")
    if found or outcome.result is None:
        return found
    was = _normalise(payload_value(expected.response), outcome.event.request_id, ignore_keys, error=bool(expected.error_type))
    now = _normalise(payload_value(outcome.result.response), outcome.request_id, ignore_keys, error=bool(outcome.error_type))
    if was != now:
        found.append(f"response {_short(was)} -> {_short(now)}")
    return found


def _normalise(value: Any, request_id: str | None, ignore_keys: frozenset[str], *, error: bool) -> Any:
    """A response with its own request id masked and ignored keys dropped; for errors, type and message only."""
    if error and isinstance(value, dict):
        value = {k: value.get(k) for k in ("errorType", "errorMessage")}
    if isinstance(value, dict):
        return {k: _normalise(v, request_id, ignore_keys, error=False) for k, v in value.items() if k not in ignore_keys}
    if isinstance(value, list):
        return [_normalise(v, request_id, ignore_keys, error=False) for v in value]
    if isinstance(value, str) and request_id:
        return value.replace(request_id, REQUEST_ID_PLACEHOLDER)
    return value


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def import_events(events: list[RecordedEvent], store_file: Path, config: FleetConfig, command: str) -> int:
    """Write an event set into the store as a run of its own, so `replay --run N` replays it; returns N.

    Each event becomes a stored invocation with what the set expected of it
    (status, error type, response), timed as recorded, else one millisecond
    apart in the file's order.
    """
    from lambdatop.runtime.config import StoreSettings
    from lambdatop.runtime.identifiers import request_id as new_request_id, segment_id
    from lambdatop.runtime.store.writer import Store

    store = Store(store_file, StoreSettings.from_config(config))
    try:
        run_id = store.begin_run(str(config.path), command)
        now = time.time()
        for n, event in enumerate(events):
            expected = event.expected
            record = InvocationRecord(
                request_id=event.request_id or new_request_id(), function=event.function, version="$LATEST",
                code_version="imported", trigger=event.trigger or "import", invocation_type=event.invocation_type,
                started_at=event.at if event.at is not None else now + n / 1000,
                status=InvocationStatus(expected.status) if expected else InvocationStatus.SUCCESS,
                error_type=expected.error_type if expected else None, segment_id=segment_id(),
            )
            record.ended_at = record.started_at
            store.write(InvocationResult(record, event.payload, (expected.response or b"") if expected else b""), run_id)
        store.end_run()
        store.flush_sync()
    finally:
        store.close()
    return run_id
