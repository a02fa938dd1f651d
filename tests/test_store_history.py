"""The durable store: what a run records, retention, payload caps, traces, and opening older or foreign files."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationRecord, InvocationResult, InvocationStatus
from lambdatop.runtime.services import attach_store_services
from lambdatop.runtime.store.writer import Store
from lambdatop.runtime.store.reader import StoreReader
from lambdatop.runtime.store.schema import MIGRATIONS, SCHEMA_VERSION, StoreError
from lambdatop.runtime.config.store_settings import StoreSettings

HELLO = """
def handler(event, context):
    print("hello from", event.get("name"))
    if event.get("fail"):
        raise KeyError("missing")
    return {"hi": event.get("name")}
"""


def result(n: int, function: str = "fn") -> InvocationResult:
    record = InvocationRecord(
        request_id=f"req-{n}", function=function, version="$LATEST", code_version="v1", trigger="api",
        invocation_type="RequestResponse", started_at=1_700_000_000 + n, segment_id=f"{n:016x}", ended_at=1_700_000_000 + n,
    )
    return InvocationResult(record, b'{"n": %d}' % n, b'"ok"', ["START", "END", "REPORT"])


async def test_a_run_records_every_invocation_with_payloads_logs_and_the_run(make_project: Callable[..., Path]) -> None:
    config = make_project({"hello": HELLO}, "functions:\n  hello: {handler: app.handler, timeout: 1}\n")
    fleet = Fleet(config)
    attach_store_services(fleet)
    async with fleet:
        ok = await fleet.invoke("hello", {"name": "ada"})
        failed = await fleet.invoke("hello", {"name": "bob", "fail": True})
        # A trace can come before or after its invocation's row is written.
        fleet.store.attach_trace({"trace_id": ok.record.trace_id, "segments": 2}, segment_id=ok.record.segment_id)
        await fleet.store.flush()
        fleet.store.attach_trace({"late": True}, request_id=failed.record.request_id)
        await fleet.store.flush()
        run_id = fleet.store.run_id
    db = config.parent / ".lambdatop" / "lambdatop.db"
    assert db.is_file()
    with StoreReader.open(db) as reader:
        (run,) = reader.runs()
        assert run.id == run_id and run.ended_at is not None and run.invocations == 2
        stored = reader.get(ok.record.request_id)
        assert stored is not None
        assert stored.record.to_dict() == ok.record.to_dict()
        assert stored.event() == {"name": "ada"} and stored.response_json() == {"hi": "ada"}
        assert stored.log_lines == ok.log_lines and any("hello from ada" in line for line in stored.log_lines)
        assert stored.trace == {"trace_id": ok.record.trace_id, "segments": 2}
        bad = reader.get(failed.record.request_id)
        assert bad is not None and bad.record.status == InvocationStatus.ERROR and bad.record.error_type == "KeyError"
        assert bad.response_json()["errorType"] == "KeyError" and bad.trace == {"late": True}
        assert [s.record.request_id for s in reader.invocations(run=run_id, newest_first=False)] == [
            ok.record.request_id, failed.record.request_id]
        assert [s.record.request_id for s in reader.invocations(status="error")] == [failed.record.request_id]


def test_retention_bound_holds_after_200_000_invocations(tmp_path: Path) -> None:
    retention = 100_000
    store = Store(tmp_path / "db" / "lambdatop.db", StoreSettings(retention=retention))
    try:
        for n in range(200_000):
            store.write(result(n))
        # How fast is the bench's question (a timing goal fails on a busy machine); this one is the bound.
        store.flush_sync(timeout=600)
        assert store.count() == retention
        assert store.written == 200_000 and store.pruned == 100_000
        newest = store.invocations(limit=1)[0]
        oldest = store.invocations(limit=1, newest_first=False)[0]
        assert (newest.request_id, oldest.request_id) == ("req-199999", "req-100000")
    finally:
        store.close()


def test_payloads_over_the_cap_are_cut_and_say_so(tmp_path: Path) -> None:
    store = Store(tmp_path / "lambdatop.db", StoreSettings(max_payload_bytes=64))
    try:
        big = result(1)
        big.request = b'{"blob": "' + b"x" * 1000 + b'"}'
        store.write(big)
        store.flush_sync()
        stored = store.get("req-1")
        assert stored is not None
        assert len(stored.request or b"") == 64 and stored.request_size == len(big.request) and stored.request_truncated
    finally:
        store.close()


def test_an_older_schema_is_migrated_in_place_keeping_its_history(tmp_path: Path) -> None:
    path = tmp_path / "lambdatop.db"
    conn = sqlite3.connect(str(path))
    conn.executescript(MIGRATIONS[0])
    conn.execute("INSERT INTO runs (started_at, pid) VALUES (1.0, 1)")
    conn.execute("INSERT INTO invocations (run_id, request_id, segment_id, function, record, started_at) VALUES "
                 "(1, 'old', 'seg', 'fn', ?, 1.0)", (result(0).record.to_json(),))
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    with StoreReader(path) as reader:
        assert reader.get("old") is not None
        assert reader.dead_letters() == [] and reader.queued_events() == []
    assert sqlite3.connect(str(path)).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_schema_2_store_is_packed_in_place_keeping_payloads_logs_and_traces(tmp_path: Path) -> None:
    path = tmp_path / "lambdatop.db"
    conn = sqlite3.connect(str(path))
    conn.executescript(MIGRATIONS[0] + MIGRATIONS[1])
    conn.execute("INSERT INTO runs (started_at, pid) VALUES (1.0, 1)")
    old = [result(n) for n in range(3)]
    old[1].record.status = InvocationStatus.ERROR
    for n, item in enumerate(old):
        conn.execute(
            "INSERT INTO invocations (run_id, request_id, segment_id, function, status, started_at, record, request, "
            "request_size, response, response_size, log, trace) VALUES (1, ?, ?, 'fn', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (item.record.request_id, item.record.segment_id, str(item.record.status), item.record.started_at,
             item.record.to_json(), item.request, len(item.request), item.response, len(item.response),
             '["START", "END", "REPORT"]', f'{{"trace_id": "t{n}"}}' if n != 2 else None),
        )
    conn.execute("PRAGMA user_version=2")
    conn.commit()
    conn.close()
    with StoreReader(path) as reader:
        stored = reader.attempts("req-1")
        assert len(stored) == 1 and stored[0].record.to_dict() == old[1].record.to_dict()
        assert stored[0].event() == {"n": 1} and stored[0].response_json() == "ok" and stored[0].request_size == 8
        assert stored[0].log_lines == ["START", "END", "REPORT"] and stored[0].trace == {"trace_id": "t1"}
        assert reader.get("req-2").trace is None  # type: ignore[union-attr]
        assert [s.request_id for s in reader.invocations(status="error")] == ["req-1"]
        assert reader.runs()[0].invocations == 3
    tables = {row[0] for row in sqlite3.connect(str(path)).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "invocations_v2" not in tables and "traces" in tables


def test_a_newer_or_foreign_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(str(newer))
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer lambdatop.*Upgrade lambdatop, or move the file aside"):
        StoreReader(newer)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="Move it aside"):
        StoreReader(junk)
    with pytest.raises(StoreError, match="no store at"):
        StoreReader.open(tmp_path / "missing.db")


def test_a_result_written_twice_is_stored_once_and_a_late_trace_still_finds_its_row(tmp_path: Path) -> None:
    from lambdatop.runtime.store import writer

    store = Store(tmp_path / "lambdatop.db")
    try:
        first = result(1)
        store.write(first)
        store.write(first)  # the async queue writes its attempts, and the bus brings the same results again
        store.flush_sync()
        store.write(first)
        later = writer._RECENT_ROWS + 10  # enough that the writer no longer remembers the first row
        for n in range(2, 2 + later):
            store.write(result(n))
        store.flush_sync(timeout=300)
        # The trace carries its request id: the row is found through the request id's index.
        store.attach_trace({"request_id": "req-1", "documents": ["late"]}, segment_id=first.record.segment_id)
        store.flush_sync()
        assert store.count() == 1 + later
        (stored,) = store.attempts("req-1")
        assert stored.trace == {"request_id": "req-1", "documents": ["late"]}
    finally:
        store.close()
