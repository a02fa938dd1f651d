"""The store's writer thread: it sleeps through its batch window, and a full batch or an urgent operation ends it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from lambdatop.runtime.config.store_settings import StoreSettings
from lambdatop.runtime.store.writer import Store
from tests.support import voluntary_switches
from tests.test_store_history import result


def _writer_wakeups() -> int:
    writer = next(t for t in threading.enumerate() if t.name == "lambdatop-store-writer")
    return voluntary_switches(f"self/task/{writer.native_id}")


def test_the_writer_sleeps_through_its_window_instead_of_waking_for_each_write(tmp_path: Path) -> None:
    # Woken by every write, the writer took the GIL from the event loop about three times per invocation.
    store = Store(tmp_path / "lambdatop.db", StoreSettings(flush_interval=0.2))
    try:
        store.flush_sync()
        before = _writer_wakeups()
        for n in range(100):
            store.write(result(n))
            time.sleep(0.0005)  # the GIL is free: a writer waiting on each item would take it now
        store.flush_sync()
        assert _writer_wakeups() - before < 40  # (100-200 when it woke for each one)
        assert store.count() == 100
    finally:
        store.close()


def test_a_full_batch_is_committed_without_waiting_out_the_window(tmp_path: Path) -> None:
    store = Store(tmp_path / "lambdatop.db", StoreSettings(flush_interval=60.0, max_batch=50))
    try:
        for n in range(50):
            store.write(result(n))
        deadline = time.monotonic() + 20  # the window is 60 s: only the full batch ends it sooner
        while store.count() < 50:
            assert time.monotonic() < deadline, f"the full batch is not committed: {store.count()} rows"
            time.sleep(0.02)
    finally:
        store.close()


def test_an_urgent_operation_ends_the_window_and_commits_what_waited(tmp_path: Path) -> None:
    store = Store(tmp_path / "lambdatop.db", StoreSettings(flush_interval=60.0))
    try:
        for n in range(5):
            store.write(result(n))
        store.call_sync(lambda conn: None, timeout=20)  # an accepted async event's commit waits for no window
        assert store.count() == 5
    finally:
        store.close()
