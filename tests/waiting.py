"""Waiting in a test for something the fleet does on its own time, with a deadline that says what never happened.

A wait without one ends at pytest-timeout's two minutes with a stack trace
into the event loop, and no word of what was awaited: the one flake that cost
a day to place (an alarm test polling a state that had already moved on) did.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(condition: Callable[[], T], what: str, timeout: float = 20.0, step: float = 0.02) -> T:
    """`condition()`'s first truthy value, asked every `step` seconds on the loop (which the fleet under test
    shares, so the wait never blocks it); fails with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        await asyncio.sleep(step)
    return value
