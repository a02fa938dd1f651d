"""A measurement taken in a child Python process: run it, kill it if anything goes wrong, read its JSON.

Scenarios use one where the figure must not include the bench's own process
(a fresh supervisor's RSS) or where the load must come from elsewhere (an HTTP client).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

CHILD_TIMEOUT_S = 300


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
