"""The real awslambdaric, run on a handler for comparison (see ric_driver.py), and what it printed and posted."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DRIVER = Path(__file__).with_name("ric_driver.py")


@dataclass
class RicRun:
    stdout: str
    init_error: dict[str, Any] | None
    results: list[dict[str, Any]]

    def body(self, index: int = 0) -> bytes:
        return base64.b64decode(self.results[index]["body"])

    def error_event(self) -> str:
        """The one [ERROR] event it wrote (the last thing a run writes here), as one multi-line event.

        On plain stdout the RIC joins the event's lines with `\r` (StandardLogSink); on Lambda it is one
        telemetry frame whose lines are joined by `\n`, which is how lambdatop's log holds it.
        """
        assert self.stdout.count("[ERROR]") == 1, self.stdout
        return self.stdout[self.stdout.index("[ERROR]"):].rstrip("\n").replace("\r", "\n")


def run_ric(code_dir: Path, handler: str, invocations: list[dict[str, Any]], env: dict[str, str] | None = None,
            tmp: Path | None = None) -> RicRun:
    """Run awslambdaric 4.2's bootstrap.run on `handler` in a fresh process, one invocation per spec."""
    result_file = (tmp or code_dir) / "ric-result.json"
    environ = {"PATH": os.environ.get("PATH", ""), "TZ": ":UTC", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
               "AWS_LAMBDA_FUNCTION_NAME": "fn", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
               "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", **(env or {})}
    done = subprocess.run([sys.executable, str(DRIVER), str(code_dir), handler, json.dumps(invocations), str(result_file)],
                          env=environ, capture_output=True, timeout=60)  # bytes: text mode would turn its \r into \n
    posted = json.loads(result_file.read_text())
    result_file.unlink()
    return RicRun(done.stdout.decode(), posted["init_error"], posted["results"])


def invocation(payload: str = "{}", request_id: str = "ric-request", **more: Any) -> dict[str, Any]:
    return {"request_id": request_id, "payload": payload, **more}
