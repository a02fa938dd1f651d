"""The async queue's journal: every accepted event is a row of the store's `async_events` until it settles.

Each function here is one step of an event's life in SQL, run by the store's
writer thread on its connection (`store.call` / `store.submit`): accept,
adopt what a dead run left, persist a retry, settle (the last attempt's
destinations, dead letter and the row's removal in ONE transaction, so a
`kill -9` leaves every event either settled or still queued), redrive.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambdatop.runtime.config.async_settings import Target
from lambdatop.runtime.records import InvocationResult, Trigger
from lambdatop.runtime.store.reader import process_alive

_COLUMNS = ("request_id, function, payload, trigger, trace, accepted_at, next_attempt_at, attempts, throttles, "
            "last_error_type, last_error_message")


@dataclass(slots=True)
class QueuedEvent:
    """An accepted event not settled yet: its `async_events` row, plus what only the running queue knows."""

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
    # The bucket, topic or rule a push source's event came from: kept by the running queue only (not a column),
    # so an event adopted from a dead run or redriven has none.
    source_arn: str | None = None
    # The version or alias it was invoked with (`FN:live`), kept the same way: an adopted event runs $LATEST.
    qualifier: str | None = None
    waiters: list[asyncio.Future[InvocationResult | None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Why an event failed for good, as the `dead_letters` table (and the DLQ screen) keeps it."""

    condition: str
    error_code: int
    error_type: str | None
    message: str | None


Send = tuple[Target, Any]  # a destination and its body (an invocation record, or ("dlq", attributes))


def insert(conn: sqlite3.Connection, event: QueuedEvent, owner_run: int | None, source: str | None = None) -> None:
    """Accept `event`: owned by `owner_run` until it settles or that run goes away."""
    conn.execute(
        "INSERT OR REPLACE INTO async_events (request_id, function, payload, trigger, trace, accepted_at, next_attempt_at, "
        "attempts, throttles, owner_run, source) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
        (event.request_id, event.function, event.payload, event.trigger, event.trace, event.accepted_at,
         event.next_attempt_at, owner_run, source),
    )


def dead_letter_counts(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """Dead letters not redriven yet, per function."""
    return conn.execute(
        "SELECT function, COUNT(*) FROM dead_letters WHERE redriven_at IS NULL GROUP BY function").fetchall()


def release(conn: sqlite3.Connection, run_id: int | None) -> None:
    """A run that stops hands its queued events back, so the next run adopts them at once."""
    conn.execute("UPDATE async_events SET owner_run = NULL WHERE owner_run = ?", (run_id,))


def adopt(conn: sqlite3.Connection, run_id: int | None) -> list[QueuedEvent]:
    """Take over the events whose run is gone (exited, killed, crashed), oldest first."""
    mine_or_live = [run_id] + [
        row[0] for row in conn.execute("SELECT id, pid FROM runs WHERE ended_at IS NULL AND id != ?", (run_id,))
        if process_alive(row[1])
    ]
    marks = ",".join("?" * len(mine_or_live))
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM async_events WHERE owner_run IS NULL OR owner_run NOT IN ({marks}) ORDER BY accepted_at",
        mine_or_live,
    ).fetchall()
    conn.executemany("UPDATE async_events SET owner_run = ? WHERE request_id = ?", [(run_id, row[0]) for row in rows])
    return [QueuedEvent(*row) for row in rows]


def retry_state(event: QueuedEvent) -> tuple[Any, ...]:
    """The event's retry state as it stands now (taken on the loop; the writer thread applies it later)."""
    return (event.next_attempt_at, event.attempts, event.throttles, event.last_error_type, event.last_error_message,
            event.request_id)


def persist_retry(conn: sqlite3.Connection, state: tuple[Any, ...]) -> None:
    """Write a `retry_state`: when the next attempt is due, attempts and throttles so far, the last error."""
    conn.execute(
        "UPDATE async_events SET next_attempt_at = ?, attempts = ?, throttles = ?, last_error_type = ?, "
        "last_error_message = ? WHERE request_id = ?", state,
    )


def settle(
    conn: sqlite3.Connection, event: QueuedEvent, *, sends: Sequence[Send], follow_ups: Sequence[QueuedEvent],
    dead_letter: DeadLetter | None, routed: Sequence[str], owner_run: int | None, now: float,
) -> None:
    """One transaction: destination events and messages, the dead letter, and the event's row gone.

    `follow_ups` are destination invocations of functions of the fleet (queued as
    events of their own); every other send is a message in a local queue.
    """
    for follow_up in follow_ups:
        insert(conn, follow_up, owner_run, source=f"destination:{event.request_id}")
    queued = {f.function for f in follow_ups}
    for target, body in sends:
        is_dlq = isinstance(body, tuple)
        if target.kind == "function" and target.name in queued and not is_dlq:
            continue
        if is_dlq:  # the DLQ: the original event, with the error in attributes
            text, attributes = event.payload.decode("utf-8", "replace"), body[1]
        else:
            text, attributes = json.dumps(body), {}
        conn.execute(
            "INSERT INTO messages (queue, body, attributes, sent_at, source_function, request_id) VALUES (?, ?, ?, ?, ?, ?)",
            (target.name, text, json.dumps(attributes), now, event.function, event.request_id),
        )
    if dead_letter is not None:
        conn.execute(
            "INSERT INTO dead_letters (request_id, function, payload, trigger, condition, error_code, error_type, "
            "error_message, attempts, accepted_at, failed_at, routed_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event.request_id, event.function, event.payload, event.trigger, dead_letter.condition, dead_letter.error_code,
             dead_letter.error_type, dead_letter.message, event.attempts, event.accepted_at, now, json.dumps(list(routed))),
        )
    conn.execute("DELETE FROM async_events WHERE request_id = ?", (event.request_id,))


def redrive(
    conn: sqlite3.Connection, letter_ids: Sequence[int] | None, *, owner_run: int | None, now: float, new_id: Callable[[], str],
) -> list[QueuedEvent]:
    """Dead letters (all not redriven yet when `letter_ids` is None) queued again as new events."""
    sql = "SELECT id, request_id, function, payload, trigger FROM dead_letters WHERE redriven_at IS NULL"
    params: tuple[Any, ...] = ()
    if letter_ids is not None:
        sql += f" AND id IN ({','.join('?' * len(letter_ids))})"
        params = tuple(letter_ids)
    events = []
    for letter_id, _old, function, payload, trigger in conn.execute(sql + " ORDER BY id", params).fetchall():
        event = QueuedEvent(new_id(), function, payload, trigger or str(Trigger.ASYNC), None, now, now)
        insert(conn, event, owner_run, source=f"redrive:{letter_id}")
        conn.execute("UPDATE dead_letters SET redriven_at = ?, redrive_request_id = ? WHERE id = ?",
                     (now, event.request_id, letter_id))
        events.append(event)
    return events
