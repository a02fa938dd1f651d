"""The store's SQLite file: its schema, the migrations that bring an older file up to date, and opening it.

WAL mode, so readers read while the one writer writes. A file written by a
newer lambdatop, or one that is not a lambdatop store, is refused with a
message that says what to do.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

from lambdatop.runtime.errors import StoreError
from lambdatop.runtime.store import codec, health

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
    # 3: compact history (4.2 KB a no-op invocation before, ~0.5 KB after). The record and its log
    #    are one packed blob (codec.py); the columns left are the ones queries filter on; the request
    #    id is indexed as a 64-bit key; traces, which come a second after their row, are rows of their
    #    own instead of an UPDATE of the invocation. `_copy_v2_history` moves the old rows over.
    """
    ALTER TABLE invocations RENAME TO invocations_v2;
    DROP INDEX invocations_segment;
    DROP INDEX invocations_request;
    DROP INDEX invocations_function;
    DROP INDEX invocations_run;
    DROP INDEX invocations_started;
    CREATE TABLE invocations (
        seq INTEGER PRIMARY KEY,
        run_id INTEGER,
        request_key INTEGER NOT NULL,
        function TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        body BLOB NOT NULL,
        request BLOB,
        request_size INTEGER NOT NULL,
        response BLOB,
        response_size INTEGER NOT NULL
    );
    CREATE INDEX invocations_request ON invocations(request_key);
    CREATE INDEX invocations_function ON invocations(function);
    CREATE INDEX invocations_run ON invocations(run_id);
    CREATE INDEX invocations_started ON invocations(started_at);
    CREATE TABLE traces (
        seq INTEGER PRIMARY KEY,
        trace BLOB NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """A connection to the store at `path`, created and migrated to the current schema if needed.

    Created private (the folder 0700, the file 0600: SQLite gives its -wal and -shm files the
    file's mode): invocation payloads and logs can hold secrets.
    """
    if not create and not path.exists():
        raise StoreError(f"no store at {path}: nothing has been recorded in this project yet (run lambdatop here first)")
    hazard = health.shm_hazard(path, mapped=False)
    if hazard is not None:
        raise StoreError(hazard.replace("; lambdatop keeps serving", "").replace("until the next start of lambdatop", "until it is removed"))
    try:
        _make_private(path)
        conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: SQLite refused WAL mode ({mode}); is the folder on a network filesystem?")
        # NORMAL in WAL mode: a commit survives the process being killed (it is in the OS's page
        # cache); only a power loss can take the last commits with it.
        conn.execute("PRAGMA synchronous=NORMAL")
        _migrate(conn, path)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise explain(path, exc) from exc
    return conn


def explain(path: Path, exc: BaseException) -> StoreError:
    """What went wrong with the store file, and what to do about it (the advice depends on the cause)."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if path.is_dir():
        return StoreError(f"{path} is a folder, not a store file: move it aside, or set store.path to a file")
    folder = path.parent
    if getattr(exc, "sqlite_errorname", None) == "SQLITE_FULL" or "disk is full" in reason:
        return StoreError(
            f"the disk holding the store {path} is full ({reason}): free some space (df -h {folder}). "
            f"Until then history is not recorded; writes resume by themselves."
        )
    if "locked" in reason or "busy" in reason:
        return StoreError(f"the store {path} is busy ({reason}): another process has held its write lock for over 10 s")
    unwritable = (path.exists() and not os.access(path, os.R_OK | os.W_OK)) or (folder.exists() and not os.access(folder, os.W_OK | os.X_OK))
    if unwritable or isinstance(exc, PermissionError) or "readonly" in reason or "unable to open" in reason:
        return StoreError(
            f"cannot open the store {path} for reading and writing ({reason}). Check who owns it and its folder "
            f"(ls -ld {folder} {path}): both must be writable by you, the folder for SQLite's -wal and -shm files. "
            f"Or run with --no-store."
        )
    return StoreError(
        f"{path} is not a lambdatop store SQLite can read ({reason}). Move it aside (mv {path} {path}.bad) "
        f"and lambdatop starts a fresh one."
    )


def _make_private(path: Path) -> None:
    folder = path.parent
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
    # An older lambdatop made them 0755/0644. A folder the user chose (store.path) keeps its mode.
    for item, mode in ((folder, 0o700), (path, 0o600)):
        if item == folder and folder.name != ".lambdatop":
            continue
        if item.exists() and item.stat().st_uid == os.getuid() and item.stat().st_mode & 0o077:
            os.chmod(item, mode)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # an empty file is a new SQLite database


def _copy_v2_history(conn: sqlite3.Connection) -> None:
    """Schema 3's data step: every row of the old invocations table, packed, then the old table dropped."""
    rows = conn.execute("SELECT seq, run_id, request_id, record, request, request_size, response, response_size, log, trace "
                        "FROM invocations_v2 ORDER BY seq")
    for seq, run_id, request_id, record_text, request, request_size, response, response_size, log, trace in rows:
        record = codec.record_from_fields(json.loads(record_text))
        record.request_id = request_id  # the column was what queries matched on: it stays the request's id
        body = codec.pack_body(record, json.loads(log) if log else [])
        conn.execute(
            "INSERT INTO invocations (seq, run_id, request_key, function, status, started_at, body, request, request_size, "
            "response, response_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, run_id, codec.request_key(request_id), record.function, str(record.status), record.started_at, body,
             request, request_size if request_size is not None else len(request or b""), response,
             response_size if response_size is not None else len(response or b"")),
        )
        if trace:
            conn.execute("INSERT INTO traces (seq, trace) VALUES (?, ?)", (seq, codec.pack_trace(json.loads(trace))))
    conn.execute("DROP TABLE invocations_v2")


# Python that runs after a step's SQL (keyed by the version the step reaches).
_DATA_STEPS = {3: _copy_v2_history}

_OUR_TABLES = frozenset(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", "".join(MIGRATIONS)))


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version == 0:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        if tables - _OUR_TABLES:
            raise StoreError(
                f"{path} is an SQLite database, but not a lambdatop store (it has tables {', '.join(sorted(tables)[:5])}); "
                f"lambdatop leaves it alone. Set store.path to another file, or move it aside."
            )
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
            if step + 1 in _DATA_STEPS:
                _DATA_STEPS[step + 1](conn)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if version < 3 <= SCHEMA_VERSION and conn.execute("PRAGMA freelist_count").fetchone()[0] > 1000:
        # Packing freed most of the file (423 MB → 60 MB for 100,000 rows): give it back to the disk, once.
        try:
            conn.execute("VACUUM")
        except sqlite3.OperationalError:
            pass  # another process has the store open: the free pages are reused by new rows instead
