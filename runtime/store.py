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

Readers (the CLI, the UI, the observability views) use `StoreReader`, with a
connection of their own; WAL lets them read while the writer writes.
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.errors import ConfigError, SYNC_PAYLOAD_LIMIT
from lambdatop.runtime.records import InvocationRecord, InvocationResult, InvocationStatus, payload_value

if TYPE_CHECKING:
    from lambdatop.runtime.bus import Subscription
    from lambdatop.runtime.config import FleetConfig
    from lambdatop.runtime.fleet import Fleet

STORE_DIR = ".lambdatop"
STORE_FILE = "lambdatop.db"
DEFAULT_RETENTION = 100_000  # invocations kept; older ones are pruned
DEFAULT_MAX_PAYLOAD = SYNC_PAYLOAD_LIMIT  # 6 MB: a stored event or response is cut here
DEFAULT_FLUSH_INTERVAL_S = 0.2
DEFAULT_MAX_BATCH = 1000

# Each entry moves a store from version i to i+1. Never edit a released entry: add one.
MIGRATIONS: tuple[str, ...] = (
    # 1: runs and the invocation history.
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at REAL NOT NULL,
        ended_at REAL,
        pid INTEGER,
        config_path TEXT,
        command TEXT
    );
    CREATE TABLE invocations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER,
        request_id TEXT NOT NULL,
        segment_id TEXT,
        function TEXT NOT NULL,
        invocation_type TEXT,
        trigger TEXT,
        status TEXT,
        error_type TEXT,
        started_at REAL,
        ended_at REAL,
        duration_ms REAL,
        cold_start INTEGER,
        record TEXT NOT NULL,
        request BLOB,
        request_size INTEGER,
        response BLOB,
        response_size INTEGER,
        log TEXT,
        trace TEXT
    );
    CREATE UNIQUE INDEX invocations_segment ON invocations(segment_id);
    CREATE INDEX invocations_request ON invocations(request_id);
    CREATE INDEX invocations_function ON invocations(function, seq);
    CREATE INDEX invocations_run ON invocations(run_id, seq);
    CREATE INDEX invocations_started ON invocations(started_at);
    """,
    # 2: the durable async queue, its dead letters, and local destination queues.
    """
    CREATE TABLE async_events (
        request_id TEXT PRIMARY KEY,
        function TEXT NOT NULL,
        payload BLOB NOT NULL,
        trigger TEXT,
        trace TEXT,
        accepted_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        throttles INTEGER NOT NULL DEFAULT 0,
        owner_run INTEGER,
        last_error_type TEXT,
        last_error_message TEXT,
        source TEXT
    );
    CREATE INDEX async_events_owner ON async_events(owner_run);
    CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL,
        function TEXT NOT NULL,
        payload BLOB NOT NULL,
        trigger TEXT,
        condition TEXT NOT NULL,
        error_code INTEGER,
        error_type TEXT,
        error_message TEXT,
        attempts INTEGER,
        accepted_at REAL,
        failed_at REAL NOT NULL,
        routed_to TEXT,
        redriven_at REAL,
        redrive_request_id TEXT
    );
    CREATE INDEX dead_letters_function ON dead_letters(function, id);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        queue TEXT NOT NULL,
        body TEXT NOT NULL,
        attributes TEXT,
        sent_at REAL NOT NULL,
        source_function TEXT,
        request_id TEXT
    );
    CREATE INDEX messages_queue ON messages(queue, id);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """The store cannot be opened or written; the message says what to do."""


@dataclass(frozen=True)
class StoreSettings:
    """The `store:` section of lambdatop.yaml."""

    enabled: bool = True
    path: Path | None = None
    retention: int = DEFAULT_RETENTION
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD
    flush_interval: float = DEFAULT_FLUSH_INTERVAL_S
    max_batch: int = DEFAULT_MAX_BATCH

    @classmethod
    def from_config(cls, config: FleetConfig) -> StoreSettings:
        section = config.sections.get("store") or {}
        where = str(config.path)
        if section is True or section is False:
            return cls(enabled=bool(section), path=config.root / STORE_DIR / STORE_FILE)
        if not isinstance(section, Mapping):
            raise ConfigError("must be a mapping (enabled, path, retention, max_payload_bytes, flush_interval_ms)", path=where, key="store")
        known = {"enabled", "path", "retention", "max_payload_bytes", "flush_interval_ms", "max_batch"}
        for key in section:
            if key not in known:
                raise ConfigError(f"unknown key in store (known: {', '.join(sorted(known))})", path=where, key=f"store.{key}",
                                  line=_line(section, key))

        def positive_int(key: str, default: int) -> int:
            value = section.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"must be a whole number above 0, got {value!r}", path=where, key=f"store.{key}", line=_line(section, key))
            return value

        enabled = section.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"must be true or false, got {enabled!r}", path=where, key="store.enabled", line=_line(section, "enabled"))
        raw_path = section.get("path")
        path = (config.root / str(raw_path)) if raw_path else config.root / STORE_DIR / STORE_FILE
        flush_ms = section.get("flush_interval_ms", DEFAULT_FLUSH_INTERVAL_S * 1000)
        if isinstance(flush_ms, bool) or not isinstance(flush_ms, (int, float)) or not 0 <= flush_ms <= 10_000:
            raise ConfigError(f"must be a number of milliseconds from 0 to 10000, got {flush_ms!r}", path=where,
                              key="store.flush_interval_ms", line=_line(section, "flush_interval_ms"))
        return cls(
            enabled=enabled, path=path.resolve(), retention=positive_int("retention", DEFAULT_RETENTION),
            max_payload_bytes=positive_int("max_payload_bytes", DEFAULT_MAX_PAYLOAD),
            flush_interval=float(flush_ms) / 1000, max_batch=positive_int("max_batch", DEFAULT_MAX_BATCH),
        )


def _line(section: Any, key: str) -> int | None:
    line_of = getattr(section, "line_of", None)
    return line_of(key) if line_of else None


def store_path(config: FleetConfig) -> Path:
    """Where the store of this project lives."""
    settings = StoreSettings.from_config(config)
    assert settings.path is not None
    return settings.path


# -- what readers get back ------------------------------------------------------------


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


_RECORD_FIELDS = tuple(InvocationRecord.__slots__)  # type: ignore[attr-defined]


def _record_json(record: InvocationRecord) -> str:
    # asdict() deep-copies; this is the hot path of the writer, so read the slots directly.
    data = {name: getattr(record, name) for name in _RECORD_FIELDS}
    data["status"] = str(record.status)
    return json.dumps(data)


def _record_from_json(text: str) -> InvocationRecord:
    data = json.loads(text)
    data = {k: v for k, v in data.items() if k in _RECORD_FIELDS}
    data["status"] = InvocationStatus(data.get("status", "success"))
    return InvocationRecord(**data)


# -- opening ------------------------------------------------------------------------


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """A connection to the store at `path`, created and migrated to the current schema if needed."""
    if not create and not path.exists():
        raise StoreError(f"no store at {path}: nothing has been recorded in this project yet (run lambdatop here first)")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: SQLite refused WAL mode ({mode}); is the folder on a network filesystem?")
        # NORMAL in WAL mode: a commit survives the process being killed (it is in the OS's page
        # cache); only a power loss can take the last commits with it.
        conn.execute("PRAGMA synchronous=NORMAL")
        _migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path} is not a lambdatop store SQLite can read ({exc}). Move it aside (mv {path} {path}.bad) "
            f"and lambdatop starts a fresh one."
        ) from exc
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer lambdatop (store schema {version}, this one knows up to {SCHEMA_VERSION}). "
            f"Upgrade lambdatop, or move the file aside (mv {path} {path}.v{version}) to start a fresh store."
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the lock.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# -- reading ------------------------------------------------------------------------


_SUMMARY_COLUMNS = "seq, run_id, record, request_size, response_size"
_FULL_COLUMNS = "seq, run_id, record, request_size, response_size, request, response, log, trace"


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
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

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
        where, params = [], []
        for column, value in (("function", function), ("run_id", run), ("request_id", request_id), ("status", status)):
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
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [self._stored(row) for row in self._query(sql, tuple(params))]

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
        sql, params = "SELECT DISTINCT request_id FROM invocations WHERE 1=1", []
        if function is not None:
            sql += " AND function = ?"
            params.append(function)
        if invocation_type is not None:
            sql += " AND invocation_type = ?"
            params.append(invocation_type)
        return {row[0] for row in self._query(sql, tuple(params))}

    @staticmethod
    def _stored(row: tuple[Any, ...]) -> StoredInvocation:
        stored = StoredInvocation(seq=row[0], run_id=row[1], record=_record_from_json(row[2]), request_size=row[3] or 0,
                                  response_size=row[4] or 0)
        if len(row) > 5:
            stored.request, stored.response = row[5], row[6]
            stored.log_lines = json.loads(row[7]) if row[7] else []
            stored.trace = json.loads(row[8]) if row[8] else None
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
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            urgent = isinstance(first, _Op) and first.urgent
            deadline = time.monotonic() + self.settings.flush_interval
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
            for future, _, _ in done:
                if not future.done():
                    future.set_exception(StoreError(f"store write failed: {exc}"))
            for item in batch:
                if isinstance(item, _Op) and item.future is not None and not item.future.done():
                    item.future.set_exception(StoreError(f"store write failed: {exc}"))
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
            int(record.cold_start), _record_json(record), request[:cap], len(request), response[:cap], len(response),
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
        fleet.store = self.store  # type: ignore[attr-defined]
        self._fleet = fleet
        self._subscription = fleet.subscribe("store", maxlen=100_000)
        self._task = asyncio.create_task(self._pump(self._subscription), name="lambdatop-store-pump")
        self.store.feeds.append(self._feed)
        store = self.store
        fleet.snapshot_providers["store"] = lambda: {
            "path": str(store.path), "run_id": store.run_id, "written": store.written, "backlog": store.backlog,
            "errors": store.errors, "last_error": store.last_error,
        }

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

