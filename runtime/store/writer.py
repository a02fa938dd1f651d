"""The durable store: every invocation, the async queue and its dead letters, in one SQLite file.

The file is `.lambdatop/lambdatop.db` beside the config, in WAL mode. One
writer thread owns the write connection and is fed by a queue: the event loop
only appends to that queue, it never waits on the disk. The writer commits in
batches (every `flush_interval` or `max_batch` items, whichever first), so a
`kill -9` loses at most the last unflushed batch of history. Operations that
must be durable before the caller hears back (an accepted async event) are
"urgent": the writer commits them at once and resolves the caller's future
only after the commit, grouping whatever else arrived meanwhile into the same
transaction.

Readers (the CLI, the UI, the observability views) use `StoreReader`
(`store_reader.py`), with a connection of their own; WAL lets them read while
the writer writes. The file's schema and migrations are in `store_schema.py`,
the `store:` settings in `store_settings.py`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.records import InvocationResult
from lambdatop.runtime.snapshot import StoreView
from lambdatop.runtime.store.reader import StoreReader, record_json
from lambdatop.runtime.store.schema import StoreError, connect, explain
from lambdatop.runtime.config.store_settings import StoreSettings

if TYPE_CHECKING:
    from lambdatop.runtime.bus import Subscription
    from lambdatop.runtime.fleet import Fleet


# -- writing ------------------------------------------------------------------------


class _Op:
    """A unit of work for the writer thread: a function of the connection, maybe awaited."""

    __slots__ = ("apply", "future", "urgent")

    def __init__(self, apply: Callable[[sqlite3.Connection], Any], future: concurrent.futures.Future[Any] | None, urgent: bool) -> None:
        self.apply = apply
        self.future = future
        self.urgent = urgent


_STOP = object()

_INSERT_INVOCATION = (
    "INSERT OR IGNORE INTO invocations (run_id, request_id, segment_id, function, invocation_type, trigger, status, "
    "error_type, started_at, ended_at, duration_ms, cold_start, record, request, request_size, response, response_size, "
    "log, trace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class Store(StoreReader):
    """The store with its writer thread: `write(result)` never blocks; `call()` runs SQL in the writer and awaits its commit."""

    def __init__(self, path: Path | str, settings: StoreSettings | None = None) -> None:
        super().__init__(path)
        self.settings = settings or StoreSettings(path=Path(path))
        self.run_id: int | None = None
        self.written = 0  # invocations written (including ones retention pruned since)
        self.pruned = 0
        self.errors = 0
        self.last_error: str | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # Called (on the loop) before a flush, so results still on the bus are included.
        self.feeds: list[Callable[[], None]] = []
        self._pending_traces: dict[str, str] = {}  # segment or request id -> trace JSON that arrived before its row
        self._count = 0
        self._commits = 0
        self._writer_conn = connect(self.path)
        # The writer touches the table and its five indexes on every batch: keep them in memory.
        self._writer_conn.execute("PRAGMA cache_size=-32000")
        self._count = self._writer_conn.execute("SELECT COUNT(*) FROM invocations").fetchone()[0]
        self._thread = threading.Thread(target=self._run, name="lambdatop-store-writer", daemon=True)
        self._thread.start()
        self._closed = False

    # runs

    def begin_run(self, config_path: str | None, command: str | None = None) -> int:
        cursor = self.call_sync(lambda c: c.execute(
            "INSERT INTO runs (started_at, pid, config_path, command) VALUES (?, ?, ?, ?)",
            (time.time(), os.getpid(), config_path, command if command is not None else " ".join(sys.argv)),
        ).lastrowid)
        self.run_id = int(cursor)
        return self.run_id

    def end_run(self) -> None:
        if self.run_id is not None:
            run_id = self.run_id
            self.submit(lambda c: c.execute("UPDATE runs SET ended_at = ? WHERE id = ?", (time.time(), run_id)))

    # the hot path

    def write(self, result: InvocationResult, run_id: int | None = None) -> None:
        """Queue one finished invocation for the next batch. Never blocks; safe from the event loop."""
        self._queue.put(result if run_id is None else (result, run_id))

    def attach_trace(self, trace: Any, *, request_id: str | None = None, segment_id: str | None = None) -> None:
        """Attach an invocation's trace (a JSON-able value or JSON text), by its segment id (preferred) or request id.

        The trace may arrive before the invocation's row is written: it is kept
        and applied when the row comes.
        """
        if segment_id is None and request_id is None:
            raise ValueError("attach_trace needs a segment_id or a request_id")
        text = trace if isinstance(trace, str) else json.dumps(trace)

        def apply(conn: sqlite3.Connection) -> None:
            if segment_id is not None:
                updated = conn.execute("UPDATE invocations SET trace = ? WHERE segment_id = ?", (text, segment_id)).rowcount
            else:
                updated = conn.execute(
                    "UPDATE invocations SET trace = ? WHERE seq = (SELECT MAX(seq) FROM invocations WHERE request_id = ?)",
                    (text, request_id),
                ).rowcount
            if not updated:
                if len(self._pending_traces) > 10_000:
                    self._pending_traces.pop(next(iter(self._pending_traces)))
                self._pending_traces[segment_id or request_id or ""] = text

        self.submit(apply)

    # generic work for other capabilities (the async queue)

    def submit(self, apply: Callable[[sqlite3.Connection], Any], *, urgent: bool = False) -> concurrent.futures.Future[Any]:
        """Run `apply(conn)` in the writer thread inside the next batch's transaction; the future resolves after the commit."""
        if self._closed:
            raise StoreError("the store is closed")
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put(_Op(apply, future, urgent))
        return future

    async def call(self, apply: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run `apply(conn)` in the writer and wait until it is committed (durable), without blocking the loop."""
        return await asyncio.wrap_future(self.submit(apply, urgent=True))

    def call_sync(self, apply: Callable[[sqlite3.Connection], Any], timeout: float = 30.0) -> Any:
        return self.submit(apply, urgent=True).result(timeout)

    async def flush(self) -> None:
        """Wait until everything published or queued so far is committed."""
        for feed in self.feeds:
            feed()
        await self.call(lambda c: None)

    def flush_sync(self, timeout: float = 60.0) -> None:
        self.call_sync(lambda c: None, timeout)

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        """Commit what is queued, stop the writer, close the connections."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join(timeout=60)
            self._writer_conn.close()
        super().close()

    # the writer thread

    def _run(self) -> None:
        stop = False
        last_commit = time.monotonic()
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            urgent = isinstance(first, _Op) and first.urgent
            # From the start of the last commit, not from now: what arrived while it ran has waited
            # already, so under load history is still committed every flush_interval (plus one commit).
            deadline = last_commit + self.settings.flush_interval
            while len(batch) < self.settings.max_batch:
                wait = 0.0 if urgent else deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
                urgent = urgent or (isinstance(item, _Op) and item.urgent)
            last_commit = time.monotonic()
            self._commit(batch)

    def _commit(self, batch: list[Any]) -> None:
        conn = self._writer_conn
        done: list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
        rows: list[tuple[Any, ...]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for item in batch:
                if isinstance(item, _Op):
                    if rows:
                        self._insert(conn, rows)
                        rows = []
                    try:
                        done.append((item.future, item.apply(conn), None))  # type: ignore[arg-type]
                    except Exception as exc:  # noqa: BLE001 - one bad operation must not sink the batch
                        done.append((item.future, None, exc))  # type: ignore[arg-type]
                else:
                    result, run_id = item if isinstance(item, tuple) else (item, self.run_id)
                    rows.append(self._row(result, run_id))
            if rows:
                self._insert(conn, rows)
            self._prune(conn)
            conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - disk full, locked for too long...: report and carry on
            self.errors += 1
            self.last_error = str(exc)
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            failure = f"store write failed: {explain(self.path, exc) if isinstance(exc, sqlite3.DatabaseError) else exc}"
            for future, _, _ in done:
                if not future.done():
                    future.set_exception(StoreError(failure))
            for item in batch:
                if isinstance(item, _Op) and item.future is not None and not item.future.done():
                    item.future.set_exception(StoreError(failure))
            return
        for future, value, error in done:
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

    def _row(self, result: InvocationResult, run_id: int | None) -> tuple[Any, ...]:
        record = result.record
        cap = self.settings.max_payload_bytes
        request, response = bytes(result.request), bytes(result.response)
        trace = self._pending_traces.pop(record.segment_id or "", None) or self._pending_traces.pop(record.request_id, None)
        return (
            run_id, record.request_id, record.segment_id, record.function, record.invocation_type, record.trigger,
            str(record.status), record.error_type, record.started_at, record.ended_at, record.duration_ms,
            int(record.cold_start), record_json(record), request[:cap], len(request), response[:cap], len(response),
            json.dumps(result.log_lines), trace,
        )

    def _insert(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        before = conn.total_changes
        conn.executemany(_INSERT_INVOCATION, rows)
        added = conn.total_changes - before
        self._count += added
        self.written += added

    def _prune(self, conn: sqlite3.Connection) -> None:
        """Keep the newest `retention` invocations. Cost is proportional to the excess, not the table."""
        self._commits += 1
        if self._commits % 500 == 0:
            # Now and then, the same bound for local queue messages and dead letters already redriven.
            keep = self.settings.retention
            conn.execute("DELETE FROM messages WHERE id <= (SELECT MAX(id) FROM messages) - ?", (keep,))
            conn.execute("DELETE FROM dead_letters WHERE redriven_at IS NOT NULL AND id <= (SELECT MAX(id) FROM dead_letters) - ?",
                         (keep,))
        excess = self._count - self.settings.retention
        if excess <= 0:
            return
        row = conn.execute("SELECT seq FROM invocations ORDER BY seq LIMIT 1 OFFSET ?", (excess - 1,)).fetchone()
        if row is None:
            return
        deleted = conn.execute("DELETE FROM invocations WHERE seq <= ?", (row[0],)).rowcount
        self._count -= deleted
        self.pruned += deleted


# -- the service that records a run ----------------------------------------------------


class StoreService:
    """Records everything the fleet publishes into the store, as one run. Attach with `fleet.add_service`."""

    def __init__(self, settings: StoreSettings, command: str | None = None) -> None:
        self.settings = settings
        self.command = command
        self.store: Store | None = None
        self._task: asyncio.Task[None] | None = None
        self._fleet: Fleet | None = None
        self._subscription: Subscription | None = None

    async def start(self, fleet: Fleet) -> None:
        assert self.settings.path is not None
        self.store = Store(self.settings.path, self.settings)
        self.store.begin_run(str(fleet.config.path), self.command)
        self._fleet = fleet
        self._subscription = fleet.subscribe("store", maxlen=100_000)
        self._task = asyncio.create_task(self._pump(self._subscription), name="lambdatop-store-pump")
        self.store.feeds.append(self._feed)
        store = self.store
        fleet.snapshot_providers["store"] = lambda: StoreView(
            path=str(store.path), run_id=store.run_id, written=store.written, backlog=store.backlog,
            errors=store.errors, last_error=store.last_error,
        )

    def opened_store(self) -> Store | None:
        return self.store

    async def _pump(self, subscription: Any) -> None:
        assert self.store is not None
        while True:
            self._write_all(await subscription.wait(1.0))

    def _feed(self) -> None:
        if self._subscription is not None:
            self._write_all(self._subscription.drain())

    def _write_all(self, items: list[Any]) -> None:
        assert self.store is not None
        for item in items:
            if isinstance(item, InvocationResult):
                self.store.write(item)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._fleet is not None and self._subscription is not None:
            # Whatever the bus still holds (the last invocations before stop) goes in too.
            self._feed()
            self._fleet.bus.unsubscribe(self._subscription)
            self._fleet.snapshot_providers.pop("store", None)
        if self.store is not None:
            self.store.end_run()
            await asyncio.to_thread(self.store.close)
