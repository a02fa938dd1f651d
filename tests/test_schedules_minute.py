"""`rate(1 minute)` fires one real minute after lambdatop starts, with no time scale and no fire-now hook, from a
function's Schedule event and from an AWS::Events::Rule of the template alike; the disabled twin stays quiet.

A real minute, so the run is not waited on: `lambdatop serve` on the ticker template starts in the
background as soon as the session has collected this test (`pytest_collection_finish` in conftest),
and the test, which comes minutes later in a full run, reads what fired from the store and the
handler's own log, then stops it. Run alone, the test waits out the rest of the minute. The serve
is started detached, with its own temp folder, so it is neither a descendant of this session nor
inside its temp folder: the orphan checks of the tests in between never see its workers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from lambdatop.runtime.store.reader import StoreReader
from tests.conftest import gone

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Ticker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ticker/
      Handler: app.handler
      Environment: {{Variables: {{FIRED_LOG: "{log}"}}}}
      Events:
        Tick:
          Type: Schedule
          Properties: {{Schedule: rate(1 minute), Name: every-minute}}
        Paused:
          Type: Schedule
          Properties: {{Schedule: rate(1 minute), Enabled: false}}
  TickRule:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(1 minute)
      Targets:
        - Arn: !GetAtt Ticker.Arn
          Id: ticker
          Input: '{{"from": "the rule"}}'
"""
RECORDER = """\
import json, os, time

def handler(event, context):
    with open(os.environ["FIRED_LOG"], "a") as log:
        log.write(json.dumps({"at": time.time(), "event": event}) + "\\n")
    return event
"""
# $1: this session's pid; the rest: the command. Prints the serve's pid.
_LAUNCH = """
session=$1; shift
"$@" >serve.log 2>&1 </dev/null &
serve=$!
echo $serve
(while kill -0 "$session" 2>/dev/null && kill -0 "$serve" 2>/dev/null; do sleep 1; done
 kill -TERM "$serve" 2>/dev/null) >/dev/null 2>&1 </dev/null &
"""
FIRST_FIRINGS_WITHIN_S = 75.0  # the first minute's firings; the next ones come at 120 s


class MinuteServe:
    """`lambdatop serve` on the ticker template, detached, and what it fired."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="lambdatop-minute-", dir="/tmp"))
        self.fired_log = self.folder / "fired.jsonl"
        (self.folder / "ticker").mkdir()
        (self.folder / "ticker" / "app.py").write_text(RECORDER)
        (self.folder / "template.yaml").write_text(textwrap.dedent(TEMPLATE.format(log=self.fired_log)))
        (self.folder / "tmp").mkdir()
        self.started = 0.0
        self.pid = 0

    def start(self) -> None:
        command = [sys.executable, "-m", "lambdatop.tui.cli", "serve", "--config", str(self.folder / "template.yaml"),
                   "--port", "0", "--no-api", "--no-aws", "--no-watch", "-q"]
        self.started = time.time()
        # `sh` starts it in the background and exits: the serve is re-parented away from this session. A
        # watcher beside it stops it if this session dies without its sessionfinish (a SIGTERM, a kill).
        launcher = subprocess.run(
            ["/bin/sh", "-c", _LAUNCH, "sh", str(os.getpid()), *command], cwd=self.folder,
            env={**os.environ, "TMPDIR": str(self.folder / "tmp")}, capture_output=True, text=True, check=True,
            start_new_session=True)
        self.pid = int(launcher.stdout.strip())

    def firings(self) -> list[dict[str, object]]:
        if not self.fired_log.exists():
            return []
        return [json.loads(line) for line in self.fired_log.read_text().splitlines() if line.strip()]

    def stop(self) -> str:
        """SIGTERM (ours, by pid), wait until it is gone; its output."""
        if self.pid and not gone(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while not gone(self.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        return (self.folder / "serve.log").read_text() if (self.folder / "serve.log").exists() else ""


SERVE: MinuteServe | None = None


def start_in_the_background() -> None:
    global SERVE
    if SERVE is None:
        SERVE = MinuteServe()
        SERVE.start()


def stop_in_the_background() -> None:
    if SERVE is not None:
        SERVE.stop()
        shutil.rmtree(SERVE.folder, ignore_errors=True)


@pytest.mark.timeout(100)
def test_rate_one_minute_fires_after_one_real_minute() -> None:
    start_in_the_background()  # already under way in a full run
    assert SERVE is not None
    serve = SERVE
    deadline = serve.started + FIRST_FIRINGS_WITHIN_S
    while time.time() < deadline and len(serve.firings()) < 2:
        time.sleep(0.2)
    time.sleep(max(0.0, min(deadline, serve.started + 62) - time.time()))  # room for a wrongful third at 60 s
    first_minute = [f for f in serve.firings() if float(f["at"]) < deadline]  # type: ignore[arg-type]
    output = serve.stop()
    assert len(first_minute) == 2, f"{first_minute}\n{output[-2000:]}"

    by_source = {"rule" if f["event"].get("from") == "the rule" else "event": f for f in first_minute}  # type: ignore[union-attr]
    tick = by_source["event"]["event"]
    assert tick["detail-type"] == "Scheduled Event"  # type: ignore[index]
    assert tick["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/every-minute"]  # type: ignore[index]
    for firing in by_source.values():
        waited = float(firing["at"]) - serve.started  # type: ignore[arg-type]
        assert 59.5 <= waited <= 70, f"fired {waited:.1f} s after the start, not one minute"
    store = StoreReader.open(serve.folder / ".lambdatop" / "lambdatop.db")
    try:
        records = [s.record for s in store.invocations(function="Ticker", limit=None)
                   if s.record.started_at < deadline]
    finally:
        store.close()
    assert len(records) == 2 and {str(r.trigger) for r in records} == {"schedule"}
