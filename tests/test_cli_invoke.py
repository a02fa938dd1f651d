"""`lambdatop invoke` from the shell: stdout is the payload, stderr the log, the exit code the outcome."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import REPO_ROOT, SAMPLE_TEMPLATE


def lambdatop(*args: str, stdin: bytes | None = None, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "lambdatop.tui.cli", *args], cwd=cwd, input=stdin, capture_output=True, timeout=60,
    )


def test_invoke_prints_the_response_and_the_log() -> None:
    done = lambdatop("invoke", "hello", "--event", "sample_functions/hello/events/basic.json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["message"] == "Hello, lambdatop!"
    log = done.stderr.decode().splitlines()
    assert log[0].startswith("INIT_START ") and log[1].startswith("START RequestId: ")
    assert log[-2].startswith("END RequestId: ") and log[-1].startswith("REPORT RequestId: ")


def test_default_config_and_default_event_are_found_from_the_repo_root() -> None:
    done = lambdatop("invoke", "hello")  # ./sample_functions/template.yaml and hello/events/basic.json
    assert done.returncode == 0 and json.loads(done.stdout)["message"] == "Hello, lambdatop!"


def test_event_from_stdin_and_json_output() -> None:
    done = lambdatop("invoke", "hello", "--event", "-", "--json", "--config", str(SAMPLE_TEMPLATE), stdin=b'{"name": "pipe"}')
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["response"]["message"] == "Hello, pipe!"
    assert record["status"] == "success" and record["cold_start"] is True
    assert record["function"] == "hello" and record["version"] == "$LATEST"
    assert record["log"][-1].startswith("REPORT RequestId: " + record["request_id"])


def test_function_error_exits_1_and_still_prints_the_error_payload() -> None:
    done = lambdatop("invoke", "boom", "--event", "sample_functions/boom/events/missing_key.json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["errorType"] == "KeyError"
    assert b"[ERROR] KeyError: 'action'" in done.stderr


def test_service_errors_exit_3_in_lambdas_words() -> None:
    missing = lambdatop("invoke", "nope")
    assert missing.returncode == 3
    assert b"(ResourceNotFoundException)" in missing.stderr and b"function:nope" in missing.stderr
    bad_json = lambdatop("invoke", "hello", "--event", "-", stdin=b"{nope")
    assert bad_json.returncode == 3 and b"InvalidRequestContentException" in bad_json.stderr


def test_config_errors_exit_2_and_name_the_key(tmp_path: Path) -> None:
    (tmp_path / "f").mkdir()
    (tmp_path / "lambdatop.yaml").write_text("functions:\n  f:\n    handler: app.handler\n    timeout: forever\n")
    done = lambdatop("invoke", "f", cwd=tmp_path)
    assert done.returncode == 2
    assert b"lambdatop.yaml:4: function 'f': timeout: must be a whole number" in done.stderr


def test_missing_event_file_is_a_usage_error() -> None:
    done = lambdatop("invoke", "hello", "--event", "no/such/file.json")
    assert done.returncode == 2 and b"cannot read event file" in done.stderr


def test_many_invocations_show_warm_reuse_and_throttles() -> None:
    done = lambdatop("invoke", "slow", "-n", "12", "--concurrency", "8", "--event", "-", "--json", stdin=b'{"sleep_ms": 300}')
    summary = json.loads(done.stdout)
    assert summary["invocations"] == 12
    assert summary["throttles"] >= 3  # 8 in flight against 5 reserved
    assert summary["ok"] + summary["throttles"] == 12
    assert summary["environments"] <= 5 and summary["cold"] <= 5 and summary["warm"] == summary["ok"] - summary["cold"]
    assert summary["p50_ms"] >= 300 and done.returncode == 1  # throttles make the run a failure


def test_many_sequential_invocations_reuse_one_warm_environment() -> None:
    done = lambdatop("invoke", "hello", "-n", "20")
    assert done.returncode == 0
    assert b"ok 20" in done.stdout and b"cold 1  warm 19  environments 1" in done.stdout
