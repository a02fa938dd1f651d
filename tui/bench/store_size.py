"""The store's cost per invocation: bytes on disk and the writer thread's CPU, with the default store.

The fleet runs as `lambdatop invoke` and `replay` run it (the store, with its
default settings, and observability, whose traces the store keeps too). After
N no-op invocations, and once the last one's trace is filed, the figures are
the file's used pages over the rows it holds (so the fixed tables and the
first pages weigh little) and the writer thread's CPU time over N (from the
kernel's per-thread accounting). Target: at most 1 KB per invocation, so the
default retention of 100,000 invocations stays around 100 MB.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from typing import TYPE_CHECKING

import psutil
from lambdatop.runtime.fleet import Fleet
from lambdatop.tui.bench.results import Figure

if TYPE_CHECKING:
    from pathlib import Path

    from lambdatop.tui.bench.runner import BenchContext

WRITER_THREAD = "lambdatop-store-writer"
TARGET_BYTES = 1024
DEFAULT_RETENTION = 100_000
TRACE_WAIT_S = 30.0


def _thread_cpu(native_id: int | None) -> float:
    for thread in psutil.Process().threads():
        if thread.id == native_id:
            return thread.user_time + thread.system_time
    return 0.0


async def _trace_filed(fleet: Fleet, request_id: str) -> None:
    """Wait until the store holds this invocation's trace (observability files it after a settle time)."""
    assert fleet.store is not None
    deadline = time.monotonic() + TRACE_WAIT_S
    while time.monotonic() < deadline:
        await fleet.store.flush()
        stored = fleet.store.get(request_id)
        if stored is not None and stored.trace is not None:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the trace of {request_id} was not stored within {TRACE_WAIT_S:.0f} s")


def _bytes_per_row(path: Path) -> tuple[float, int, int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        pages, free, size = (conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count", "page_size"))
        rows = conn.execute("SELECT COUNT(*) FROM invocations").fetchone()[0]
    used = (pages - free) * size
    return used / max(rows, 1), rows, used


async def run(ctx: BenchContext) -> list[Figure]:
    from lambdatop.runtime.services import attach_command_services

    count = ctx.budget.store_invocations
    fleet = Fleet(ctx.project.config_path)
    attach_command_services(fleet, command="bench store")
    async with fleet:
        if fleet.store is None:
            raise RuntimeError("the store did not attach")
        path = fleet.store.path
        first = await fleet.invoke("noop", b"{}")
        await _trace_filed(fleet, first.record.request_id)
        writer = next(t for t in threading.enumerate() if t.name == WRITER_THREAD)
        before, process_before = _thread_cpu(writer.native_id), sum(psutil.Process().cpu_times()[:2])
        last = first
        for _ in range(count):
            last = await fleet.invoke("noop", b"{}")
        await _trace_filed(fleet, last.record.request_id)
        writer_s = _thread_cpu(writer.native_id) - before
        process_s = sum(psutil.Process().cpu_times()[:2]) - process_before
    per_row, rows, used = _bytes_per_row(path)
    size = Figure("store", "bytes on disk per no-op invocation (default store, traces kept)", "B", value=per_row,
                  samples=rows, target=f"≤ {TARGET_BYTES:,} B", met=per_row <= TARGET_BYTES,
                  note=f"{rows} invocations in {used / 1e6:.2f} MB; the default retention ({DEFAULT_RETENTION:,}) ≈ "
                       f"{per_row * DEFAULT_RETENTION / 1e6:.0f} MB")
    cpu = Figure("store", "writer thread CPU per invocation", "µs", value=writer_s / count * 1e6, samples=count,
                 note=f"the supervisor's whole CPU per invocation meanwhile: {process_s / count * 1e6:.0f} µs")
    return [size, cpu]
