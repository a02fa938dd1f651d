"""The DLQ screen in the dashboard: `d` lists failed async events with their error; `r` redrives one, `R` all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from textual.widgets import DataTable, Static

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.services import attach_store_services
from lambdatop.tui.app import LambdatopApp
from lambdatop.tui.screens.dlq import DeadLetterScreen

FAILING = """
def handler(event, context):
    if not event.get("ok"):
        raise RuntimeError("no good: " + str(event.get("n")))
    return "fine"
"""
CONFIG = """
async: {delay_scale: 0.001}
functions:
  picky:
    handler: app.handler
    timeout: 1
    async: {MaximumRetryAttempts: 0}
"""


async def test_dlq_screen_lists_failed_events_and_redrives_them(make_project: Callable[..., Path]) -> None:
    config = make_project({"picky": FAILING}, CONFIG)
    fleet = Fleet(config)
    attach_store_services(fleet)
    async with fleet:
        ids = [await fleet.enqueue("picky", b'{"n": %d}' % n) for n in range(3)]
        for request_id in ids:
            await asyncio.wait_for(fleet.async_queue.settled(request_id), 15)
        await fleet.store.flush()

        app = LambdatopApp(fleet)
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.press("d")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, DeadLetterScreen)
            table = screen.query_one("#dlq-table", DataTable)
            assert table.row_count == 3
            rows = [table.get_row_at(i) for i in range(3)]
            assert {row[2] for row in rows} == set(ids)
            assert all(row[1] == "picky" and row[3] == "RetriesExhausted" for row in rows)
            assert all("RuntimeError: no good" in str(row[5]) for row in rows)
            detail = str(screen.query_one("#dlq-detail", Static).render())
            assert "RuntimeError: no good" in detail and '"n":' in detail

            # Redrive the highlighted one: it runs again (and fails again: a new dead letter replaces it).
            first = screen.selected()
            await pilot.press("r")
            deadline = time.monotonic() + 15
            while not any(letter.request_id not in ids for letter in fleet.store.dead_letters("picky")):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            await fleet.store.flush()
            redriven = fleet.store.dead_letters("picky", include_redriven=True)
            assert any(letter.id == first.id and letter.redrive_request_id for letter in redriven)

            # Fix the function, redrive all: every dead letter is delivered and the list empties.
            (config.parent / "picky" / "app.py").write_text(FAILING.replace("if not event.get(\"ok\")", "if False"))
            fleet.update_function(fleet.functions["picky"], "v2")
            await pilot.press("R")
            deadline = time.monotonic() + 15
            while fleet.store.dead_letters("picky") or fleet.snapshot().async_queues["picky"].queue_depth:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            await pilot.pause(1.2)  # one refresh
            assert screen.query_one("#dlq-table", DataTable).row_count == 0
            assert fleet.snapshot().async_queues["picky"].dlq == 0
            await pilot.press("escape")
            assert not isinstance(app.screen, DeadLetterScreen)
