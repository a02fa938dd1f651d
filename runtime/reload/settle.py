"""When a save is over: editors' save patterns coalesced into one batch without a fixed wait.

A save is one to a few filesystem operations: a write in place (truncate, then
write), a temp file renamed over the original (vim's backupcopy, JetBrains'
safe write), a delete then a create, or many files at once (format-on-save, a
git checkout). watchfiles hands over a batch once its set of changes has not
grown for one step (`WATCH_STEP_MS`, a few ms); `ChangeBatcher` then releases
it at once, unless what it sees on disk says the save is not over:

- a changed file modified within the last step may still be being written
  (watchfiles counts one path once per batch, so a batch can come mid-write):
  it is looked at again a step later;
- a changed file that is gone (the rename or create has not happened yet), an
  emptied one, or a `.py` file that does not compile (truncated mid-write) waits
  for the next event, up to `INCOMPLETE_WAIT_S`; a syntax error that is still
  there then is the user's, and is applied (and reported as broken code);
- a batch of several files is a tool at work (format-on-save, a git checkout),
  which may pause for longer than a step between two files: it is released after
  `BURST_QUIET_S` without any event, so a checkout makes one reload, not one
  per pause. A single save touches one file (its temp files are not code).

`reload: {debounce_ms: N}` (0 by default) adds a fixed quiet time on top, the
behaviour before this module. However long the events go on, a batch is
released at least every `MAX_BATCH_WINDOW_S`.
"""

from __future__ import annotations

import asyncio
import enum
import os
import stat as stat_mode
import time
from collections.abc import Callable, Iterable
from pathlib import Path

WATCH_STEP_MS = 5  # watchfiles' step for code folders: a batch comes 1-2 steps after the first change
CONFIG_WATCH_STEP_MS = 20  # for the config files' folders (each watcher thread wakes every step, even idle)
MAX_BATCH_WINDOW_S = 1.0  # a stream of writes still reloads at least this often
INCOMPLETE_WAIT_S = 0.25  # how long a file that is gone, empty or does not compile waits for the write that completes it
BURST_QUIET_S = 0.05  # a batch of several files is released after this long without an event
COMPILE_LIMIT_BYTES = 512 * 1024  # bigger sources are not compiled to look for a half-written one (it costs ms)
COMPILE_LIMIT_FILES = 100  # nor are the files of a bigger batch (a checkout: its quiet time covers it)


class Settledness(enum.Enum):
    """What the changed files on disk say of a batch."""

    SETTLED = "settled"  # apply it
    WRITING = "writing"  # a file was modified within the last step: look again a step later
    INCOMPLETE = "incomplete"  # a file is gone, empty or does not compile: wait for the next event


def settledness(paths: Iterable[Path], step_s: float = WATCH_STEP_MS / 1000) -> Settledness:
    """Blocking (reads files; call in a thread): whether the changes to `paths` look finished."""
    now = time.time_ns()
    found = Settledness.SETTLED
    paths = list(paths)
    compile_limit = COMPILE_LIMIT_BYTES if len(paths) <= COMPILE_LIMIT_FILES else -1
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            return Settledness.INCOMPLETE
        if not stat_mode.S_ISREG(info.st_mode):
            continue  # a folder (created, or the parent of what changed): its files speak for it
        if info.st_size == 0 and path.suffix in (".py", ".yaml", ".yml", ".json"):
            return Settledness.INCOMPLETE  # emptied, then not yet written
        if 0 <= now - info.st_mtime_ns < step_s * 1e9:
            found = Settledness.WRITING
        elif path.suffix == ".py" and info.st_size <= compile_limit and not _compiles(path):
            return Settledness.INCOMPLETE
    return found


def _compiles(path: Path) -> bool:
    try:
        source = path.read_bytes()
    except OSError:
        return False
    try:
        compile(source, str(path), "exec", dont_inherit=True)
    except (SyntaxError, ValueError):  # ValueError: a NUL byte, as a preallocated file shows mid-write
        return False
    return True


class ChangeBatcher:
    """Collects the changed paths the watcher reports and hands them over as settled batches.

    `add` is called from the loop by the watcher; `next_batch` waits for a
    settled batch; `done` says it was applied. `idle` is set while nothing is
    pending or being applied.
    """

    def __init__(self, debounce_s: Callable[[], float]) -> None:
        self._debounce_s = debounce_s
        self.pending: set[Path] = set()
        self._changed = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()

    def add(self, paths: Iterable[Path]) -> None:
        self.pending.update(paths)
        self.idle.clear()
        self._changed.set()

    def done(self) -> None:
        if not self.pending:
            self.idle.set()

    async def next_batch(self) -> set[Path]:
        """The next batch of changed paths, once it is settled (see the module's docstring)."""
        await self._changed.wait()
        loop = asyncio.get_running_loop()
        first = loop.time()
        incomplete_since: float | None = None
        while True:
            self._changed.clear()
            debounce = self._debounce_s()
            window = max(MAX_BATCH_WINDOW_S, 10 * debounce) - (loop.time() - first)
            if window <= 0:
                break
            quiet = max(debounce, BURST_QUIET_S if len(self.pending) > 1 else 0.0)
            if quiet > 0 and await self._another_change(min(quiet, window)):
                incomplete_since = None
                continue
            state = await asyncio.to_thread(settledness, list(self.pending))
            if self._changed.is_set():  # more came while the files were looked at: look at those too
                incomplete_since = None
                continue
            if state is Settledness.SETTLED:
                break
            if state is Settledness.WRITING:
                wait = WATCH_STEP_MS / 1000
            else:
                incomplete_since = loop.time() if incomplete_since is None else incomplete_since
                wait = INCOMPLETE_WAIT_S - (loop.time() - incomplete_since)
                if wait <= 0:
                    break  # nothing completed it: what is on disk is what the user saved
            if await self._another_change(min(wait, window)):
                incomplete_since = None  # something was written: give what it left its own wait
            elif state is Settledness.INCOMPLETE:
                break
        batch, self.pending = self.pending, set()
        self._changed.clear()
        return batch

    async def _another_change(self, timeout: float) -> bool:
        """Whether another change came within `timeout` seconds."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return False
        return True
