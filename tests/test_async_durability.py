"""Durability: `lambdatop serve` accepts Event invocations over HTTP, is SIGKILLed mid-way (accepting and delivering), restarted:
every accepted event is delivered at least once."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import psutil

from lambdatop.runtime.errors import StoreError
from lambdatop.runtime.store.reader import StoreReader

from tests.conftest import zygote_processes_anywhere

EVENTS = 1000

CONFIG = """
async: {delay_scale: 0.001, max_concurrency: 4}
functions:
  work:
    handler: app.handler
    timeout: 2
"""
HANDLER = """
import time

def handler(event, context):
    time.sleep(0.005)
    return {"n": event["n"]}
"""


def start_serve(config: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambdatop.tui.cli", "serve", "--port", "0", "--no-watch", "--quiet", "-c", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=config.parent,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        match = re.search(r"Lambda API\s+(http://\S+)", line)
        if match:
            return proc, match.group(1)
        assert time.monotonic() < deadline
    raise AssertionError(f"lambdatop serve did not start (exit {proc.wait()})")


def delivered(db: Path) -> set[str]:
    try:
        with StoreReader.open(db) as reader:
            return {s.request_id for s in reader.invocations(function="work", status="success", limit=None)}
    except StoreError:  # not created yet
        return set()


async def post_events(url: str, numbers: range, accepted: list[str]) -> int:
    """POST Event invocations; the request id of every 202 goes into `accepted`. Returns how many got no 202."""
    failed = 0
    async with aiohttp.ClientSession() as session:
        semaphore = asyncio.Semaphore(32)

        async def one(n: int) -> None:
            nonlocal failed
            async with semaphore:
                try:
                    async with session.post(f"{url}/2015-03-31/functions/work/invocations", data=f'{{"n": {n}}}'.encode(),
                                            headers={"X-Amz-Invocation-Type": "Event"}) as response:
                        if response.status == 202:
                            accepted.append(response.headers["x-amzn-RequestId"])
                        else:
                            failed += 1
                except aiohttp.ClientError:
                    failed += 1  # the server was killed before answering: not accepted

        await asyncio.gather(*(one(n) for n in numbers))
    return failed


async def test_sigkill_mid_way_loses_no_accepted_event(make_project: Callable[..., Path]) -> None:
    config = make_project({"work": HANDLER}, CONFIG)
    db = config.parent / ".lambdatop" / "lambdatop.db"
    accepted: list[str] = []
    first, url = start_serve(config)
    try:
        posting = asyncio.create_task(post_events(url, range(EVENTS), accepted))
        # Kill it mid-way: while events are still being accepted and the first ones delivered.
        deadline = time.monotonic() + 60
        while len(accepted) < EVENTS // 2 or len(delivered(db)) < 10:
            assert time.monotonic() < deadline, f"{len(accepted)} accepted, {len(delivered(db))} delivered"
            assert not posting.done(), "all accepted before the kill; nothing mid-way to test"
            await asyncio.sleep(0.005)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        await asyncio.wait_for(posting, 30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    killed_at = len(accepted)
    assert EVENTS // 2 <= killed_at < EVENTS
    assert len(delivered(db) & set(accepted)) < killed_at, "the kill came too late to test anything"

    second, url = start_serve(config)
    try:
        # The rest of the 1,000, to the restarted lambdatop.
        assert await post_events(url, range(killed_at, EVENTS), accepted) == 0
        assert len(set(accepted)) == EVENTS
        deadline = time.monotonic() + 90
        while not set(accepted) <= delivered(db):
            assert second.poll() is None, "the restarted lambdatop exited"
            assert time.monotonic() < deadline, f"only {len(delivered(db) & set(accepted))} of {EVENTS} delivered"
            await asyncio.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
    assert set(accepted) <= delivered(db)
    conn = sqlite3.connect(str(db))
    assert conn.execute("SELECT COUNT(*) FROM async_events").fetchone()[0] == 0  # nothing left queued
    conn.close()
    # The first run's workers went with it (PDEATHSIG, delivered by the kernel in its own time), the second
    # stopped cleanly: wait until they are gone, within a bound.
    def leftovers() -> list[psutil.Process]:
        found = []
        for p in zygote_processes_anywhere(str(config.parent)):
            try:
                if p.pid != os.getpid() and p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    found.append(p)
            except psutil.NoSuchProcess:
                continue
        return found

    deadline = time.monotonic() + 10
    while leftovers() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not leftovers()
