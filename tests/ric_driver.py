"""Runs the real awslambdaric's bootstrap on a handler, in its own process, for tests to compare against.

    python tests/ric_driver.py CODE_DIR HANDLER SPEC_JSON RESULT_FILE

The environment (AWS_LAMBDA_LOG_FORMAT, AWS_EXECUTION_ENV...) comes from the
caller, because awslambdaric reads it when bootstrap is imported. Stands in
for the Runtime API only: `bootstrap.run` does everything else, as on Lambda.
SPEC_JSON is a list of invocations ({"request_id", "payload", "client_context"}).
What the runtime posted goes to RESULT_FILE as JSON; what it printed is on stdout.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from typing import Any

code_dir, handler, spec_json, result_file = sys.argv[1:5]
os.chdir(code_dir)
sys.path.insert(0, code_dir)

from awslambdaric import bootstrap  # noqa: E402 - after the environment and sys.path are in place
from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller  # noqa: E402

posted: dict[str, Any] = {"init_error": None, "results": []}


def _save() -> None:
    with open(result_file, "w") as out:
        json.dump(posted, out)


class Request:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.invoke_id = spec["request_id"]
        self.tenant_id = None
        self.x_amzn_trace_id = spec.get("trace_id")
        self.event_body = spec["payload"].encode()
        self.content_type = "application/json"
        self.client_context = spec.get("client_context")
        self.cognito_identity = None
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
        self.deadline_time_in_ms = 2**62
        self.invocation_id = None


class RuntimeApi:
    """The Runtime API's side of the conversation: hand out the requests, keep what comes back."""

    def __init__(self, requests: list[dict[str, Any]]) -> None:
        self.requests = list(requests)
        self.marshaller = LambdaMarshaller()

    def wait_next_invocation(self) -> Request:
        if not self.requests:
            _save()
            sys.stdout.flush()
            os._exit(0)
        return Request(self.requests.pop(0))

    def post_invocation_result(self, invoke_id: str, result: Any, content_type: str, invocation_id: Any = None) -> None:
        raw = result if isinstance(result, bytes) else result.encode()
        posted["results"].append({"ok": True, "body": base64.b64encode(raw).decode(), "content_type": content_type})

    def post_invocation_error(self, invoke_id: str, error: str, xray_fault: str, invocation_id: Any = None) -> None:
        posted["results"].append({"ok": False, "body": base64.b64encode(error.encode()).decode()})

    def post_init_error(self, error: dict[str, Any], error_type_override: str | None = None) -> None:
        posted["init_error"] = error
        _save()


bootstrap.run(handler, RuntimeApi(json.loads(spec_json)))
