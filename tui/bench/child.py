"""A measurement taken in a child Python process: run it, kill it if anything goes wrong, read its JSON.

Scenarios use one where the figure must not include the bench's own process
(a fresh supervisor's RSS) or where the load must come from elsewhere (an HTTP client).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

CHILD_TIMEOUT_S = 300
PARENT_POLL_S = 0.5


async def run_python(*args: str, what: str) -> Any:
    """`python ARGS...` whose stdout is one JSON document; raises RuntimeError naming `what` if it fails."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), CHILD_TIMEOUT_S)
    except BaseException:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {process.returncode}): {err.decode()[-800:]}")
    return json.loads(out)


async def unless_orphaned(work: Coroutine[Any, Any, T]) -> T:
    """In the child: `work`, cancelled (so the fleet it holds stops and its workers go) if the bench that started
    this process dies first: a bench killed mid-scale left 3,000 sleeping workers behind otherwise."""
    parent = os.getppid()
    task = asyncio.ensure_future(work)
    while not task.done():
        await asyncio.wait([task], timeout=PARENT_POLL_S)
        if not task.done() and os.getppid() != parent:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise SystemExit("lambdatop bench: the bench that started this measurement is gone")
    return task.result()
