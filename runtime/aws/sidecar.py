"""The AWS services sidecar as a managed child process: started, watched, restarted, stopped.

`Sidecar.start()` runs `launcher` (moto's server) and waits for the port it
bound. A watcher notices when the child dies and starts it again on the same
port, so the URL workers were given stays right; `on_restart` lets the owner
re-create the resources the dead process held in memory. The child arms
PR_SET_PDEATHSIG itself, so it dies with lambdatop even after `kill -9`.
"""

from __future__ import annotations

from lambdatop.runtime.errors import SidecarUnavailable  # noqa: F401 - raised here, caught by its users

import asyncio
import atexit
import enum
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

START_TIMEOUT_S = 30.0  # moto imports in well under a second; a loaded 2-core machine can be slow
WATCH_INTERVAL_S = 0.5
STOP_GRACE_S = 2.0


class SidecarState(enum.StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"


class Sidecar:
    """Owns the moto server process on `host:port` (port 0 picks a free one at the first start)."""

    def __init__(self, host: str, port: int, log_path: Path) -> None:
        self.host = host
        self.port = port
        self.log_path = log_path
        self.state = SidecarState.STOPPED
        self.restarts = 0
        self.started_at: float | None = None
        self.on_restart: Callable[[], Awaitable[None]] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._watcher: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def start(self) -> None:
        await self._launch()
        atexit.register(self.kill_now)
        self._watcher = asyncio.create_task(self._watch(), name="lambdatop-aws-sidecar")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        atexit.unregister(self.kill_now)
        self.state = SidecarState.STOPPED

    def kill_now(self) -> None:
        """At interpreter exit, or when a stop cannot wait: SIGKILL the child."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)

    async def _launch(self) -> None:
        self.state = SidecarState.STARTING if self.state is SidecarState.STOPPED else SidecarState.RESTARTING
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            # Started from the loop's thread: PR_SET_PDEATHSIG fires when the *thread* that forked the
            # child ends, and this one lives as long as lambdatop.
            self._process = subprocess.Popen(
                [sys.executable, "-m", "lambdatop.runtime.aws.launcher", self.host, str(self.port), str(os.getpid())],
                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal reaches lambdatop, which stops the sidecar in order
            )
        process = self._process
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), START_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            raise SidecarUnavailable(f"the AWS services sidecar did not start within {START_TIMEOUT_S:.0f} s "
                                     f"(see {self.log_path})") from None
        if not line:
            process.wait()
            raise SidecarUnavailable(self._why_not())
        self.port = int(json.loads(line)["port"])
        self.started_at = time.time()
        self.state = SidecarState.RUNNING

    def _why_not(self) -> str:
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:] if self.log_path.exists() else []
        reason = tail[0] if tail else "it exited at once"
        if "Address already in use" in reason:
            return f"port {self.port} for the AWS services is in use ({reason}); --aws-port 0 picks a free one, --no-aws runs without"
        return f"the AWS services sidecar did not start: {reason} (see {self.log_path})"

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            process = self._process
            if process is None or process.poll() is None:
                continue
            self.restarts += 1
            try:
                await self._launch()
            except SidecarUnavailable:
                continue  # the port may still be held for a moment; try again on the next tick
            if self.on_restart is not None:
                await self.on_restart()
