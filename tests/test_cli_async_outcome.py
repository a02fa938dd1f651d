"""`lambdatop invoke FN --async` exits 1 when the event failed for good, and says where it went."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from lambdatop.runtime.store.reader import StoreReader

ALWAYS_FAILS = "def handler(event, context):\n    raise ValueError('always')\n"
FINE = "def handler(event, context):\n    return 'ok'\n"

NO_DESTINATION = """
async: {delay_scale: 0.001}
functions:
  boom: {handler: app.handler}
"""

DLQ_ONLY = """
async: {delay_scale: 0.001}
functions:
  boom:
    handler: app.handler
    async: {MaximumRetryAttempts: 1}
    dead_letter_queue: {TargetArn: "arn:aws:sqs:us-east-1:123456789012:boom-dlq"}
"""

ZERO_CONCURRENCY = """
functions:
  boom: {handler: app.handler, reserved_concurrency: 0}
"""


def invoke_async(config: Path, function: str = "boom") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lambdatop.tui.cli", "invoke", function, "--async", "-c", str(config)],
                          capture_output=True, text=True, timeout=60, cwd=config.parent)


@pytest.mark.parametrize(("config", "condition", "attempts", "sent"), [
    (NO_DESTINATION, "RetriesExhausted, ValueError: always", 3, "no DLQ or on-failure destination is configured"),
    (DLQ_ONLY, "RetriesExhausted, ValueError: always", 2, "sent to the DLQ queue:boom-dlq"),
    (ZERO_CONCURRENCY, "ZeroReservedConcurrency, TooManyRequestsException", 1, "no DLQ or on-failure destination"),
], ids=["no-dlq", "dlq", "zero-concurrency"])
def test_an_event_that_failed_for_good_exits_1_and_says_where_it_went(
    make_project: Callable[..., Path], config: str, condition: str, attempts: int, sent: str,
) -> None:
    project = make_project({"boom": ALWAYS_FAILS if "reserved_concurrency" not in config else FINE}, config)
    done = invoke_async(project)
    request_id = json.loads(done.stdout.splitlines()[0])["RequestId"]
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1, done.stderr
    assert last.startswith(f"lambdatop: event {request_id} failed for good after {attempts} attempt(s): {condition}")
    assert sent in last and "kept in the dead-letter list" in last
    assert "delivered" not in done.stderr
    with StoreReader.open(project.parent / ".lambdatop" / "lambdatop.db") as reader:
        assert [letter.request_id for letter in reader.dead_letters("boom")] == [request_id]


def test_a_delivered_event_still_exits_0(make_project: Callable[..., Path]) -> None:
    project = make_project({"fine": FINE}, "async: {delay_scale: 0.001}\nfunctions:\n  fine: {handler: app.handler}\n")
    done = invoke_async(project, "fine")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith("delivered after 1 attempt(s)")
