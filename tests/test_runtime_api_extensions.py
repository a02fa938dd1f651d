"""External extensions (a layer's `extensions/` folder) through the Extensions API, beside a custom runtime."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus
from tests.conftest import lambdatop_processes, still_running
from tests.test_runtime_api_custom import PY_BOOTSTRAP

EXTENSION = f"#!{sys.executable}\n" + textwrap.dedent('''
    import json, os, sys, urllib.request

    API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"

    def note(entry):
        with open(os.environ["EXTENSION_LOG"], "a") as log:
            log.write(json.dumps(entry) + "\\n")

    register = urllib.request.Request(API + "/register", data=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
                                      method="POST", headers={"Lambda-Extension-Name": "recorder"})
    with urllib.request.urlopen(register) as reply:
        identifier = reply.headers["Lambda-Extension-Identifier"]
        note({"registered": json.loads(reply.read())})
    while True:
        ask = urllib.request.Request(API + "/event/next", headers={"Lambda-Extension-Identifier": identifier})
        with urllib.request.urlopen(ask) as reply:
            event = json.loads(reply.read())
        note(event)
        if event["eventType"] == "SHUTDOWN":
            sys.exit(0)
        print("extension saw", event["requestId"], flush=True)
''')


async def test_an_extension_gets_invoke_and_shutdown_and_the_report_waits_for_it(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "bootstrap").write_text(PY_BOOTSTRAP)
    (tmp_path / "code" / "bootstrap").chmod(0o755)
    extensions = tmp_path / "layer" / "extensions"
    extensions.mkdir(parents=True)
    (extensions / "recorder").write_text(EXTENSION)
    (extensions / "recorder").chmod(0o755)
    journal = tmp_path / "extension.log"
    config = tmp_path / "lambdatop.yaml"
    config.write_text(textwrap.dedent(f"""
        functions:
          fn:
            code: code
            runtime: provided.al2023
            layers: [{tmp_path / 'layer'}]
            environment: {{EXTENSION_LOG: '{journal}'}}
    """))
    async with Fleet(config) as fleet:
        first = await fleet.invoke("fn", {"how": "fine"})
        second = await fleet.invoke("fn", {"how": "fine"})
    assert not still_running(lambdatop_processes())

    assert first.record.status is InvocationStatus.SUCCESS and second.record.env_id == first.record.env_id
    for result in (first, second):
        end = result.log_lines.index(f"END RequestId: {result.record.request_id}")
        # The invocation ended only once the extension had done its part and called next again.
        assert f"extension saw {result.record.request_id}" in result.log_lines[:end]
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    assert entries[0] == {"registered": {"functionName": "fn", "functionVersion": "$LATEST", "handler": "bootstrap"}}
    invokes = [e for e in entries if e.get("eventType") == "INVOKE"]
    assert [e["requestId"] for e in invokes] == [first.record.request_id, second.record.request_id]
    assert invokes[0]["invokedFunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:fn"
    assert invokes[0]["tracing"]["type"] == "X-Amzn-Trace-Id" and invokes[0]["deadlineMs"] > 0
    assert entries[-1]["eventType"] == "SHUTDOWN" and entries[-1]["shutdownReason"] == "spindown"

    journal.unlink()
    config.write_text(config.read_text().replace("runtime: provided.al2023", "runtime: provided.al2023\n    timeout: 1"))
    async with Fleet(config) as fleet:
        slow = await fleet.invoke("fn", {"how": "sleep", "seconds": 30})
        assert slow.record.status is InvocationStatus.TIMEOUT
        after = await fleet.invoke("fn", {"how": "fine"})
    assert after.record.status is InvocationStatus.SUCCESS and after.record.env_id != slow.record.env_id
    reasons = [e.get("shutdownReason") for e in map(json.loads, journal.read_text().splitlines()) if e.get("eventType") == "SHUTDOWN"]
    assert reasons == ["timeout", "spindown"]  # the timed-out environment's extension, then the new one's at stop
