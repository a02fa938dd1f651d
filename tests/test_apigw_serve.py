"""`lambdatop serve` opens the API port beside the Lambda endpoint and prints the routes; `--no-api` leaves it shut."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
import urllib.request

from tests.apigw_support import APPS
from tests.support import serve

QUIET = ("--port", "0", "--no-store", "--no-watch")


def _banner(process: subprocess.Popen, timeout: float = 60.0) -> list[str]:
    """The banner's lines, up to `Ctrl-C to stop.`"""
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"serve exited early with {process.wait(5)}: {lines}")
        lines.append(line.rstrip("\n"))
        if line.startswith("Ctrl-C to stop."):
            return lines
    raise AssertionError(f"no banner: {lines}")


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_with_api_port_0_prints_the_routes_and_answers_them(tmp_path):
    project = tmp_path / "sam-app"
    shutil.copytree(APPS / "sam-app", project)
    process = serve(project / "template.yaml", *QUIET, "--api-port", "0", stderr=subprocess.DEVNULL)
    try:
        lines = _banner(process)
        url = next(re.match(r"API routes\s+(http://127\.0\.0\.1:\d+)$", line).group(1) for line in lines
                   if line.startswith("API routes"))
        assert any(re.search(rf"GET\s+{re.escape(url)}/hello\s+→ HelloWorldFunction", line) for line in lines)
        with urllib.request.urlopen(f"{url}/hello", timeout=30) as response:
            assert (response.status, json.loads(response.read())) == (200, {"message": "hello world"})
    finally:
        assert _stop(process) == 0


def test_serve_no_api_opens_no_api_port(tmp_path):
    project = tmp_path / "sam-app"
    shutil.copytree(APPS / "sam-app", project)
    process = serve(project / "template.yaml", *QUIET, "--no-api", stderr=subprocess.DEVNULL)
    try:
        lines = _banner(process)
        assert not any(line.startswith("API routes") for line in lines)
    finally:
        assert _stop(process) == 0
