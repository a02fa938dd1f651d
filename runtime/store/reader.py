"""Reading a store back: runs, invocations with their payloads, logs and traces, dead letters and queues.

What the CLI (`logs`, `traces`, `stats`, `replay`, `record`), the screens and the
observability views use, each with a connection of its own.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack

from lambdatop.runtime.errors import StoreError
from lambdatop.runtime.records import InvocationRecord, payload_value
from lambdatop.runtime.store import codec, health
from lambdatop.runtime.store.schema import connect, explain
from lambdatop.runtime.config.store_settings import store_path

if TYPE_CHECKING:
    from lambdatop.runtime.config import FleetConfig


@dataclass(slots=True)
class StoredInvocation:
    """One invocation as the store holds it. Payloads, log and trace are filled by `get()`/`with_payloads`."""

    seq: int
    run_id: int | None
    record: InvocationRecord
    request_size: int
    response_size: int
    request: bytes | None = None
    response: bytes | None = None
    log_lines: list[str] = field(default_factory=list)
    trace: Any = None

    @property
    def request_id(self) -> str:
        return self.record.request_id

    @property
    def request_truncated(self) -> bool:
        return self.request is not None and len(self.request) < self.request_size

    def event(self) -> Any:
        """The event as JSON (None when empty)."""
        return payload_value(self.request)

    def response_json(self) -> Any:
        return payload_value(self.response)


@dataclass(slots=True)
class RunInfo:
    id: int
    started_at: float
    ended_at: float | None
    pid: int | None
    config_path: str | None
    command: str | None
    invocations: int = 0


@dataclass(slots=True)
class DeadLetter:
    """An async event that failed for good: what the DLQ screen lists and redrives."""

    id: int
    request_id: str
    function: str
    payload: bytes
    trigger: str | None
    condition: str
    error_code: int | None
    error_type: str | None
    error_message: str | None
    attempts: int
    accepted_at: float | None
    failed_at: float
    routed_to: list[str]
    redriven_at: float | None
    redrive_request_id: str | None


@dataclass(slots=True)
class QueueMessage:
    """A message a destination or DLQ wrote to a local queue (what SQS would hold)."""

    id: int
    queue: str
    body: str
    attributes: dict[str, Any]
    sent_at: float
    source_function: str | None
    request_id: str | None



def process_alive(pid: int | None) -> bool:
    """Whether the process that owns a run (its pid in the runs table) is still running."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


_SUMMARY_COLUMNS = "seq, run_id, body, request_size, response_size"
_FULL_COLUMNS = ("seq, run_id, body, request_size, response_size, request, response, "
                 "(SELECT trace FROM traces t WHERE t.seq = invocations.seq)")


class StoreReader:
    """Read access to a store: runs, invocations with their payloads, logs and traces, dead letters, messages.

    Safe to use from any one thread at a time (a lock guards the connection);
    queries are indexed, but they touch the disk: call them on demand, not per frame.
    """

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        self._conn = connect(self.path, create=create)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path | str) -> StoreReader:
        """Open an existing store for reading (raises StoreError when there is none)."""
        return cls(path, create=False)

    @classmethod
    def for_config(cls, config: FleetConfig) -> StoreReader:
        return cls.open(store_path(config))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        hazard = health.shm_hazard(self.path)
        if hazard is not None:  # a read touches the mapped -shm too
            raise StoreError(hazard)
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:  # zeroed or torn pages show only when read
                raise explain(self.path, exc) from exc

    # runs

    def runs(self, limit: int = 100) -> list[RunInfo]:
        """Most recent first, with how many invocations each still holds."""
        rows = self._query(
            "SELECT r.id, r.started_at, r.ended_at, r.pid, r.config_path, r.command, "
            "(SELECT COUNT(*) FROM invocations i WHERE i.run_id = r.id) FROM runs r ORDER BY r.id DESC LIMIT ?",
            (limit,),
        )
        return [RunInfo(*row) for row in rows]

    def latest_run(self, *, with_invocations: bool = True, exclude: int | None = None) -> int | None:
        for run in self.runs(50):
            if run.id != exclude and (run.invocations or not with_invocations):
                return run.id
        return None

    # invocations

    def invocations(
        self,
        function: str | None = None,
        run: int | None = None,
        since: float | None = None,
        until: float | None = None,
        request_id: str | None = None,
        status: str | None = None,
        limit: int | None = 100,
        newest_first: bool = True,
        payloads: bool = False,
    ) -> list[StoredInvocation]:
        """Invocations matching every filter given; `payloads=True` also loads events, responses, logs and traces."""
        where: list[str] = []
        params: list[str | int | float] = []
        key = codec.request_key(request_id) if request_id is not None else None
        for column, value in (("function", function), ("run_id", run), ("request_key", key), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("started_at >= ?")
            params.append(since)
        if until is not None:
            where.append("started_at < ?")
            params.append(until)
        sql = f"SELECT {_FULL_COLUMNS if payloads else _SUMMARY_COLUMNS} FROM invocations"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY started_at {'DESC' if newest_first else 'ASC'}, seq {'DESC' if newest_first else 'ASC'}"
        if limit is not None and request_id is None:  # with a request id, the few rows of its key are checked first
            sql += " LIMIT ?"
            params.append(limit)
        found = [self._stored(row) for row in self._query(sql, tuple(params))]
        if request_id is not None:
            found = [stored for stored in found if stored.record.request_id == request_id][:limit]
        return found

    def get(self, request_id: str) -> StoredInvocation | None:
        """The latest attempt of a request (async retries share a request id), with payloads, log and trace."""
        found = self.invocations(request_id=request_id, limit=1, payloads=True)
        return found[0] if found else None

    def attempts(self, request_id: str) -> list[StoredInvocation]:
        """Every attempt of a request, oldest first, with payloads."""
        return self.invocations(request_id=request_id, limit=None, newest_first=False, payloads=True)

    def count(self, function: str | None = None) -> int:
        if function is None:
            return self._query("SELECT COUNT(*) FROM invocations")[0][0]
        return self._query("SELECT COUNT(*) FROM invocations WHERE function = ?", (function,))[0][0]

    def distinct_requests(self, function: str | None = None, invocation_type: str | None = None) -> set[str]:
        sql, params = "SELECT body FROM invocations", tuple[Any, ...]()
        if function is not None:
            sql, params = sql + " WHERE function = ?", (function,)
        records = (codec.unpack_body(row[0])[0] for row in self._query(sql, params))
        return {r.request_id for r in records if invocation_type is None or r.invocation_type == invocation_type}

    def _stored(self, row: tuple[Any, ...]) -> StoredInvocation:
        try:
            record, log_lines = codec.unpack_body(row[2])
            trace = codec.unpack_trace(row[7]) if len(row) > 7 and row[7] else None
        except (ValueError, zlib.error, msgpack.UnpackException) as exc:
            raise StoreError(f"{self.path}: invocation {row[0]} cannot be read ({exc}); the rest of the store can") from exc
        stored = StoredInvocation(seq=row[0], run_id=row[1], record=record, request_size=row[3] or 0, response_size=row[4] or 0)
        if len(row) > 5:
            stored.request, stored.response = row[5], row[6]
            stored.log_lines = log_lines
            stored.trace = trace
        return stored

    # async queue

    def dead_letters(self, function: str | None = None, include_redriven: bool = False, limit: int = 1000) -> list[DeadLetter]:
        """Events that failed for good, newest first."""
        sql = ("SELECT id, request_id, function, payload, trigger, condition, error_code, error_type, error_message, attempts, "
               "accepted_at, failed_at, routed_to, redriven_at, redrive_request_id FROM dead_letters WHERE 1=1")
        params: list[Any] = []
        if function is not None:
            sql += " AND function = ?"
            params.append(function)
        if not include_redriven:
            sql += " AND redriven_at IS NULL"
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        letters = []
        for row in self._query(sql, tuple(params)):
            values = list(row)
            values[12] = json.loads(values[12]) if values[12] else []
            letters.append(DeadLetter(*values))
        return letters

    def messages(self, queue_name: str | None = None, limit: int = 1000) -> list[QueueMessage]:
        """Messages in the local destination/DLQ queues, oldest first."""
        sql = "SELECT id, queue, body, attributes, sent_at, source_function, request_id FROM messages"
        params: tuple[Any, ...] = ()
        if queue_name is not None:
            sql += " WHERE queue = ?"
            params = (queue_name,)
        sql += " ORDER BY id LIMIT ?"
        rows = self._query(sql, (*params, limit))
        return [QueueMessage(r[0], r[1], r[2], json.loads(r[3]) if r[3] else {}, r[4], r[5], r[6]) for r in rows]

    def queued_events(self, function: str | None = None) -> list[dict[str, Any]]:
        """Accepted async events not yet settled (queued, waiting for a retry, or in flight)."""
        sql = ("SELECT request_id, function, accepted_at, next_attempt_at, attempts, throttles, last_error_type "
               "FROM async_events")
        params: tuple[Any, ...] = ()
        if function is not None:
            sql += " WHERE function = ?"
            params = (function,)
        keys = ("request_id", "function", "accepted_at", "next_attempt_at", "attempts", "throttles", "last_error_type")
        return [dict(zip(keys, row, strict=True)) for row in self._query(sql + " ORDER BY accepted_at", params)]
