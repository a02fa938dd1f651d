"""Traces: Lambda's segments per invocation, and user subsegments from the real X-Ray SDK / Powertools over UDP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.service import ObservabilityService
from lambdatop.runtime.observability.views import FUNCTION_ORIGIN, SERVICE_ORIGIN, flatten
from tests.waiting import eventually

SDK_HANDLER = """
from aws_xray_sdk.core import xray_recorder

def handler(event, context):
    with xray_recorder.in_subsegment("outer") as sub:
        sub.put_annotation("order", event["order"])
        sub.put_metadata("event", event)
        with xray_recorder.in_subsegment("inner"):
            pass
    return {"ok": True}
"""

POWERTOOLS_HANDLER = """
from aws_lambda_powertools import Tracer

tracer = Tracer(service="demo", auto_patch=False)

@tracer.capture_method
def double(n):
    tracer.put_annotation("n", n)
    return n * 2

@tracer.capture_lambda_handler
def handler(event, context):
    return {"result": double(event["n"])}
"""

# shared: the handlers use the X-Ray SDK and Powertools lambdatop's [test] extra installed (tracing is tested here,
# not requirements.txt installs).
CONFIG = """
defaults: {dependencies: shared}
functions:
  sdkfn: {handler: app.handler, code: sdkfn, tracing: Active, timeout: 5}
  ptfn: {handler: app.handler, code: ptfn, tracing: Active, timeout: 5}
  passive: {handler: app.handler, code: passive, timeout: 5}
"""


def function_segment(docs: list[dict[str, Any]], request_id: str) -> dict[str, Any]:
    return next(d for d in docs if d.get("origin") == FUNCTION_ORIGIN and d["aws"]["request_id"] == request_id)


def user_subsegments(segment: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in segment.get("subsegments", []) if s["name"] not in ("Initialization", "Invocation", "Overhead")]


@pytest.fixture
def project(make_project: Callable[..., Any]) -> Any:
    return make_project({"sdkfn": SDK_HANDLER, "ptfn": POWERTOOLS_HANDLER, "passive": SDK_HANDLER}, CONFIG)


async def test_xray_sdk_subsegments_land_under_their_own_invocation(project: Any) -> None:
    fleet = Fleet(project)
    obs = ObservabilityService()
    fleet.add_service(obs)
    async with fleet:
        assert fleet.worker_environment["AWS_XRAY_DAEMON_ADDRESS"] == f"127.0.0.1:{obs.daemon.port}"
        first = await fleet.invoke("sdkfn", {"order": "A-1"})
        second = await fleet.invoke("sdkfn", {"order": "B-2"})
        assert first.function_error is None and second.function_error is None
        for result, order in ((first, "A-1"), (second, "B-2")):
            record = result.record
            docs = await eventually(lambda r=record: (d := obs.trace_documents(r.request_id))
                                    and user_subsegments(function_segment(d, r.request_id)) and d, "the handler's subsegments")
            segment = function_segment(docs, record.request_id)
            assert segment["id"] == record.segment_id
            assert segment["trace_id"] == record.trace_id
            [outer] = user_subsegments(segment)
            assert outer["name"] == "outer"
            assert outer["trace_id"] == record.trace_id
            assert outer["parent_id"] == record.segment_id
            assert outer["annotations"] == {"order": order}
            assert [s["name"] for s in outer["subsegments"]] == ["inner"]
            # Lambda's own subsegments, on the one time base: Init only on the cold start, user work inside Invocation.
            names = [s["name"] for s in segment["subsegments"]]
            assert ("Initialization" in names) == record.cold_start
            invocation = next(s for s in segment["subsegments"] if s["name"] == "Invocation")
            assert invocation["start_time"] <= outer["start_time"] <= outer["end_time"] <= invocation["end_time"]
            service = next(d for d in docs if d.get("origin") == SERVICE_ORIGIN)
            assert segment["parent_id"] == service["id"]
            assert service["start_time"] <= segment["start_time"] <= segment["end_time"] <= service["end_time"]
        assert first.record.cold_start and not second.record.cold_start
        assert obs.daemon.malformed == 0


async def test_powertools_tracer_capture_method_through_the_daemon(project: Any) -> None:
    fleet = Fleet(project)
    obs = ObservabilityService()
    fleet.add_service(obs)
    async with fleet:
        result = await fleet.invoke("ptfn", {"n": 21})
        assert result.response == b'{"result": 42}'
        record = result.record
        docs = await eventually(lambda: (d := obs.trace_documents(record.request_id))
                                and user_subsegments(function_segment(d, record.request_id)) and d, "the handler's subsegments")
        [handler] = user_subsegments(function_segment(docs, record.request_id))
        assert handler["name"] == "## handler"
        assert handler["trace_id"] == record.trace_id and handler["parent_id"] == record.segment_id
        assert handler["annotations"]["ColdStart"] is True
        [method] = handler["subsegments"]
        assert method["name"] == "## app.double"
        assert method["annotations"]["n"] == 21
        # The waterfall's rows: service, function, Lambda's phases and the user's subsegments, nested.
        rows = [(span.depth, span.name) for span in flatten(docs)]
        assert rows[0] == (0, "ptfn") and rows[1] == (1, "ptfn")
        assert (2, "## handler") in rows and (3, "## app.double") in rows


async def test_sdk_emits_only_when_sampled(project: Any) -> None:
    """PassThrough without an incoming sampled header: Sampled=0, so the SDK sends nothing (as in Lambda)."""
    fleet = Fleet(project)
    obs = ObservabilityService()
    fleet.add_service(obs)
    async with fleet:
        quiet = await fleet.invoke("passive", {"order": "quiet"})
        traced = await fleet.invoke("passive", {"order": "loud"}, trace="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
        assert traced.record.trace_id == "1-5759e988-bd862e3fe1be46a994272793"
        assert traced.record.parent_id == "53995c3f42cd8ad8"
        docs = await eventually(lambda: (d := obs.trace_documents(traced.record.request_id))
                                and user_subsegments(function_segment(d, traced.record.request_id)) and d, "the handler's subsegments")
        service = next(d for d in docs if d.get("origin") == SERVICE_ORIGIN)
        assert service["parent_id"] == "53995c3f42cd8ad8"  # the caller's segment
        await asyncio.sleep(0.3)
        quiet_docs = obs.trace_documents(quiet.record.request_id)
        assert quiet_docs and user_subsegments(function_segment(quiet_docs, quiet.record.request_id)) == []
        assert obs.traces.documents_received == 2  # outer and inner of the sampled call only


PARENT_HANDLER = """
import json
import boto3
from botocore.config import Config

def handler(event, context):
    client = boto3.client("lambda", config=Config(retries={"total_max_attempts": 1}))
    reply = client.invoke(FunctionName="child", Payload=json.dumps({"from": "parent"}))
    return json.loads(reply["Payload"].read())
"""

CHILD_HANDLER = """
def handler(event, context):
    return {"child_saw": event["from"]}
"""


async def test_child_invocation_through_the_endpoint_joins_the_callers_trace(make_project: Callable[..., Any]) -> None:
    from lambdatop.runtime.api.endpoint import LambdaEndpoint

    config = make_project({"parent": PARENT_HANDLER, "child": CHILD_HANDLER}, """
        functions:
          parent: {handler: app.handler, code: parent, tracing: Active, timeout: 10}
          child: {handler: app.handler, code: child, timeout: 5}
    """)
    fleet = Fleet(config)
    obs = ObservabilityService()
    fleet.add_service(obs)
    fleet.add_service(LambdaEndpoint("127.0.0.1", 0))
    async with fleet:
        result = await fleet.invoke("parent", {})
        assert result.function_error is None, result.response
        assert result.response == b'{"child_saw": "parent"}'
        parent = result.record
        trace = await eventually(lambda: (t := obs.trace(parent.request_id)) and len(t.requests) == 2 and t, "one trace of both requests")
        [child_id] = [r for r in trace.requests if r != parent.request_id]
        child = trace.requests[child_id].attempts[0]
        assert child.function == "child"
        assert child.trace_id == parent.trace_id
        assert child.parent_id == parent.segment_id  # botocore sent _X_AMZN_TRACE_ID as X-Amzn-Trace-Id
        docs = trace.segment_documents()
        child_service = next(d for d in docs if d.get("origin") == SERVICE_ORIGIN and d["aws"]["request_id"] == child_id)
        assert child_service["parent_id"] == parent.segment_id
        # In the waterfall the child's service segment sits under the parent's function segment.
        rows = flatten(docs)
        parent_row = next(s for s in rows if s.id == parent.segment_id)
        child_row = next(s for s in rows if s.id == child_service["id"])
        assert child_row.depth > parent_row.depth


async def test_the_powertools_sample_traces_logs_and_emits_metrics(sample_template: Any) -> None:
    """sample_functions/powertools_demo, unmodified Powertools Tracer + Logger + Metrics, Tracing: Active."""
    import json

    fleet = Fleet(sample_template)
    obs = ObservabilityService()
    fleet.add_service(obs)
    async with fleet:
        assert fleet.functions["powertools_demo"].tracing == "Active"
        event = json.loads((fleet.functions["powertools_demo"].events_dir / "basic.json").read_text())
        result = await fleet.invoke("powertools_demo", event)
        assert json.loads(result.response) == {"order_id": "o-1001", "total": 21.0}
        record = result.record
        docs = await eventually(lambda: (d := obs.trace_documents(record.request_id))
                                and user_subsegments(function_segment(d, record.request_id)) and d, "the handler's subsegments")
        [handler] = user_subsegments(function_segment(docs, record.request_id))
        assert handler["name"] == "## handler" and handler["annotations"]["order_id"] == "o-1001"
        assert sorted(s["name"] for s in handler["subsegments"]) == ["## app.price", "## app.save"]
        # Logger: one structured line carrying the request id and the trace id.
        [line] = [json.loads(x) for x in result.log_lines if x.startswith('{"level"')]
        assert line["function_request_id"] == record.request_id and line["xray_trace_id"] == record.trace_id
        # Metrics: the EMF lines became custom metrics of the function.
        obs.flush()
        totals = obs.metrics.series["powertools_demo"].totals
        assert totals["Orders/OrdersPlaced"].total == 1 and totals["Orders/OrderValue"].total == 21.0
        assert totals["Orders/ColdStart"].total == 1


async def test_the_traces_view_counts_what_the_daemon_refused(project: Any) -> None:
    """A datagram that is not the daemon's format, and a document with no trace id, are counted where
    the dashboard reads the traces, instead of vanishing."""
    fleet = Fleet(project)
    obs = ObservabilityService()
    fleet.add_service(obs)
    async with fleet:
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            address = ("127.0.0.1", obs.daemon.port)
            sender.sendto(b"not a daemon datagram", address)
            sender.sendto(b'{"format":"json","version":1}\n{"id":"abc","start_time":1}', address)
        finally:
            sender.close()
        view = await eventually(lambda: (v := fleet.snapshot().traces) is not None and v.datagrams + v.malformed == 2 and v,
                                "both datagrams counted")
        assert (view.datagrams, view.malformed, view.documents_rejected, view.documents_received) == (1, 1, 1, 0)
        assert view.daemon_error
