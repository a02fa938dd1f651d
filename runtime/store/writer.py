"""The durable store: every invocation, the async queue and its dead letters, in one SQLite file.

The file is `.lambdatop/lambdatop.db` beside the config, in WAL mode. One
writer thread owns the write connection and is fed by a queue: the event loop
only appends to that queue, it never waits on the disk. The writer commits in
batches (every `flush_interval` or `max_batch` items, whichever first: asleep
in between, not woken by each item), so a `kill -9` loses at most the last
unflushed batch of history. Operations that must be durable before the caller
hears back (an accepted async event) are "urgent": the writer commits them at
once and resolves the caller's future only after the commit, grouping whatever
else arrived meanwhile into the same transaction. A batch that cannot be
written (disk full, an unusable -shm: `health.py`) fails, is counted, and the
fleet goes on serving.

Readers use `StoreReader` (`reader.py`), with a connection of their own; WAL
lets them read while the writer writes. How rows are packed is `codec.py`,
the schema and its migrations `schema.py`, the `store:` settings
`config/store_settings.py`.
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
from typing import Any

from lambdatop.runtime.records import InvocationResult
from lambdatop.runtime.store import codec, health
from lambdatop.runtime.store.reader import StoreReader
from lambdatop.runtime.store.rows import RowIds
from lambdatop.runtime.store.schema import StoreError, connect, explain
from lambdatop.runtime.config.store_settings import StoreSettings


# -- writing ------------------------------------------------------------------------


class _Op:
    """A unit of work for the writer thread: a function of the connection, maybe awaited."""

    __slots__ = ("apply", "future", "urgent")

    def __init__(self, apply: Callable[[sqlite3.Connection], Any], future: concurrent.futures.Future[Any] | None, urgent: bool) -> None:
        self.apply = apply
        self.future = future
        self.urgent = urgent


class _Trace:
    """A trace for the writer to file beside its invocation's row (no future: nobody waits for it)."""

    __slots__ = ("packed", "segment_id", "request_id", "fallback")

    def __init__(self, packed: tuple[int, bytes], segment_id: str | None, request_id: str | None, fallback: str | None) -> None:
        self.packed = packed
        self.segment_id = segment_id
        self.request_id = request_id
        self.fallback = fallback  # the request id inside the trace, to find a row the writer no longer remembers


_STOP = object()

_INSERT_INVOCATION = (
    "INSERT INTO invocations (seq, run_id, request_key, function, status, started_at, body, request, request_size, "
    "response, response_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_PUT_TRACE = "INSERT OR REPLACE INTO traces (seq, trace) VALUES (?, ?)"
# Rows written lately, by segment id: a result written twice (the async queue writes its attempts, and
# the bus brings them again) is stored once, and a trace finds its row without an index. ~3 MB; at
# 1,000 invocations a second it covers 16 s (a trace comes after 1 s; one older than that is found
# through the request id's index instead).
_RECENT_ROWS = 16_384


class Store(StoreReader):
    """The store with its writer thread: `write(result)` never blocks; `call()` runs SQL in the writer and awaits its commit."""

    def __init__(self, path: Path | str, settings: StoreSettings | None = None) -> None:
        super().__init__(path)
        self.settings = settings or StoreSettings(path=Path(path))
        self.run_id: int | None = None
        self.written = 0  # invocations written (including ones retention pruned since)
        self.pruned = 0
        self.errors = 0  # batches that failed to commit
        self.last_error: str | None = None
        self.failing = False  # the last batch failed: history is not being recorded now
        self.unrecorded = 0  # invocations of batches that failed (lost to the history)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # Set with every urgent operation, a full batch and the stop: it ends the writer's batch window early. Other items
        # only queue up: a writer woken for each one cost the event loop a GIL hand-off per put (~3 per invocation).
        self._urgent = threading.Event()
        # Called (on the loop) before a flush, so results still on the bus are included.
        self.feeds: list[Callable[[], None]] = []
        # segment or request id -> a trace that arrived before its row
        self._pending_traces: dict[str, tuple[int, bytes]] = {}
        self._rows = RowIds(_RECENT_ROWS)
        self._count = 0
        self._commits = 0
        self._writer_conn = connect(self.path)
        # The writer touches the table and its indexes on every batch: keep them in memory.
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
        if self._queue.qsize() >= self.settings.max_batch:
            self._urgent.set()  # a full batch is committed at once, as the crash-safety promise counts on

    def attach_trace(self, trace: Any, *, request_id: str | None = None, segment_id: str | None = None) -> None:
        """Attach an invocation's trace (a JSON-able value or JSON text), by its segment id (preferred) or request id.

        The trace may arrive before the invocation's row is written: it is kept
        and applied when the row comes. Attaching again replaces it.
        """
        if segment_id is None and request_id is None:
            raise ValueError("attach_trace needs a segment_id or a request_id")
        value = json.loads(trace) if isinstance(trace, str) else trace
        fallback = value.get("request_id") if isinstance(value, dict) and isinstance(value.get("request_id"), str) else None
        if self._closed:
            raise StoreError("the store is closed")
        # Packed now, on the caller's thread (the caller may change its documents later); deflated in the writer.
        self._queue.put(_Trace(codec.snapshot(value), segment_id, request_id, fallback))

    # generic work for other capabilities (the async queue)

    def submit(self, apply: Callable[[sqlite3.Connection], Any], *, urgent: bool = False) -> concurrent.futures.Future[Any]:
        """Run `apply(conn)` in the writer thread inside the next batch's transaction; the future resolves after the commit."""
        if self._closed:
            raise StoreError("the store is closed")
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put(_Op(apply, future, urgent))
        if urgent:
            self._urgent.set()
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
            self._urgent.set()
            self._thread.join(timeout=60)
            self._writer_conn.close()
        super().close()

    # the writer thread

    def _run(self) -> None:
        stop = False
        last_commit = time.monotonic()
        max_batch = self.settings.max_batch
        while not stop:
            first = self._queue.get()  # idle: asleep until anything comes
            if first is _STOP:
                break
            batch = [first]
            # The batch window runs from the start of the last commit, not from now: what arrived while it ran
            # has waited already, so under load history is still committed every flush_interval (plus one commit).
            # It is waited out asleep, not item by item; an urgent operation, the stop or a full batch ends it.
            wait = last_commit + self.settings.flush_interval - time.monotonic()
            urgent = isinstance(first, _Op) and first.urgent
            if not urgent and wait > 0 and self._queue.qsize() + 1 < max_batch:
                self._urgent.wait(wait)
            self._urgent.clear()  # before draining: an urgent item queued after this is either drained now or sets it again
            while len(batch) < max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            last_commit = time.monotonic()
            self._commit(batch)

    def _commit(self, batch: list[Any]) -> None:
        conn = self._writer_conn
        done: list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
        rows: list[tuple[Any, ...]] = []
        traces: list[tuple[int, bytes]] = []
        try:
            hazard = health.shm_hazard(self.path)
            if hazard is not None:  # touching the mapped -shm now would kill the process with SIGBUS
                raise StoreError(hazard)
            conn.execute("BEGIN IMMEDIATE")
            self._rows.begin(conn)
            for item in batch:
                if isinstance(item, _Op):
                    if rows or traces:
                        self._insert(conn, rows, traces)
                    try:
                        done.append((item.future, item.apply(conn), None))  # type: ignore[arg-type]
                    except Exception as exc:  # noqa: BLE001 - one bad operation must not sink the batch
                        done.append((item.future, None, exc))  # type: ignore[arg-type]
                elif isinstance(item, _Trace):
                    self._file_trace(conn, item, traces)
                else:
                    result, run_id = item if isinstance(item, tuple) else (item, self.run_id)
                    row = self._row(result, run_id, traces)
                    if row is not None:
                        rows.append(row)
            if rows or traces:
                self._insert(conn, rows, traces)
            self._prune(conn)
            conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - disk full, locked for too long, -shm unusable...: report and carry on
            self._failed(conn, batch, done, exc)
            return
        self._rows.committed()
        self.written += self._rows.added
        self._count += self._rows.added
        self.failing = False
        for future, value, error in done:
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

    def _failed(self, conn: sqlite3.Connection, batch: list[Any], done: list[Any], exc: BaseException) -> None:
        """A batch that did not commit: its futures fail, its invocations are counted as not recorded."""
        self._rows.rolled_back()
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        reason = explain(self.path, exc) if isinstance(exc, sqlite3.DatabaseError) else exc
        # The loop reads `errors` to decide to say so, then `last_error` for what to say: the reason first.
        self.last_error = str(reason)
        self.failing = True
        self.unrecorded += sum(1 for item in batch if not isinstance(item, (_Op, _Trace)) and item is not _STOP)
        self.errors += 1
        failure = f"store write failed: {reason}"
        for future, _, _ in done:
            if not future.done():
                future.set_exception(StoreError(failure))
        for item in batch:
            if isinstance(item, _Op) and item.future is not None and not item.future.done():
                item.future.set_exception(StoreError(failure))

    def _file_trace(self, conn: sqlite3.Connection, item: _Trace, traces: list[tuple[int, bytes]]) -> None:
        seq = self._rows.seq_for(conn, item.segment_id, item.request_id, item.fallback)
        if seq is not None:
            traces.append((seq, codec.seal(item.packed, "trace")))
            return
        if len(self._pending_traces) > 10_000:
            self._pending_traces.pop(next(iter(self._pending_traces)))
        self._pending_traces[item.segment_id or item.request_id or ""] = item.packed

    def _row(self, result: InvocationResult, run_id: int | None, traces: list[tuple[int, bytes]]) -> tuple[Any, ...] | None:
        """The row of one invocation (None when this transaction or a recent one already has it)."""
        record = result.record
        seq = self._rows.claim(record.segment_id)
        if seq is None:
            return None
        cap = self.settings.max_payload_bytes
        request, response = bytes(result.request), bytes(result.response)
        trace = self._pending_traces.pop(record.segment_id or "", None) or self._pending_traces.pop(record.request_id, None)
        if trace is not None:
            traces.append((seq, codec.seal(trace, "trace")))
        return (
            seq, run_id, codec.request_key(record.request_id), record.function, str(record.status), record.started_at,
            codec.pack_body(record, result.log_lines), request[:cap], len(request), response[:cap], len(response),
        )

    @staticmethod
    def _insert(conn: sqlite3.Connection, rows: list[tuple[Any, ...]], traces: list[tuple[int, bytes]]) -> None:
        if rows:
            conn.executemany(_INSERT_INVOCATION, rows)
            rows.clear()
        if traces:
            conn.executemany(_PUT_TRACE, traces)
            traces.clear()

    def _prune(self, conn: sqlite3.Connection) -> None:
        """Keep the newest `retention` invocations. Cost is proportional to the excess, not the table."""
        self._commits += 1
        if self._commits % 500 == 0:
            # Now and then, the same bound for local queue messages and dead letters already redriven.
            keep = self.settings.retention
            conn.execute("DELETE FROM messages WHERE id <= (SELECT MAX(id) FROM messages) - ?", (keep,))
            conn.execute("DELETE FROM dead_letters WHERE redriven_at IS NOT NULL AND id <= (SELECT MAX(id) FROM dead_letters) - ?",
                         (keep,))
        excess = self._count + self._rows.added - self.settings.retention
        if excess <= 0:
            return
        row = conn.execute("SELECT seq FROM invocations ORDER BY seq LIMIT 1 OFFSET ?", (excess - 1,)).fetchone()
        if row is None:
            return
        deleted = conn.execute("DELETE FROM invocations WHERE seq <= ?", (row[0],)).rowcount
        conn.execute("DELETE FROM traces WHERE seq <= ?", (row[0],))
        self._count -= deleted
        self.pruned += deleted
