"""An API request's trace: the API Gateway segment above Lambda's; the store keeps the route and that trace."""

from __future__ import annotations

import shutil

from lambdatop.runtime.config.api_settings import ApiSettings
from lambdatop.runtime.apigateway.server import ApiGatewayService
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.service import find
from lambdatop.runtime.services import ServiceOptions, attach_standard_services
from lambdatop.runtime.store.reader import StoreReader
from lambdatop.runtime.observability.views import flatten

from tests.apigw_support import APPS, api_running, call
from tests.waiting import eventually


def _project(tmp_path):
    project = tmp_path / "sam-app"
    shutil.copytree(APPS / "sam-app", project)
    return project / "template.yaml"


async def test_the_api_gateway_segment_is_the_parent_of_the_lambda_segments(tmp_path):
    async with api_running(_project(tmp_path), observability=True) as api:
        status, headers, _ = await call("GET", f"{api.url}/hello")
        assert status == 200
        request_id = headers["x-amzn-RequestId"]
        # The record reaches the trace index through the bus, within a drain interval.
        trace = await eventually(lambda: find(api.fleet).trace(request_id), "the request's trace indexed")
        assert headers["X-Amzn-Trace-Id"] == f"Root={trace.trace_id}"
        spans = flatten(trace.segment_documents())
    rows = [(span.depth, span.origin, span.name) for span in spans if span.kind == "segment"]
    assert rows == [
        (0, "AWS::ApiGateway::Stage", "ServerlessRestApi/Prod"),
        (1, "AWS::Lambda", "HelloWorldFunction"),
        (2, "AWS::Lambda::Function", "HelloWorldFunction"),
    ]
    gateway = spans[0]
    assert gateway.annotations["route"] == "GET /hello"
    assert gateway.start <= spans[1].start and gateway.end >= spans[1].end


async def test_the_store_records_the_route_and_the_whole_trace(tmp_path):
    config = _project(tmp_path)
    fleet = Fleet(config)
    attach_standard_services(fleet, ServiceOptions(port=None, watch=False, store=True, api=ApiSettings(port=0)))
    async with fleet:
        api = next(s for s in fleet.services if isinstance(s, ApiGatewayService))
        _, headers, _ = await call("GET", f"{api.url}/hello")
        request_id = headers["x-amzn-RequestId"]
    with StoreReader.for_config(fleet.config) as reader:
        stored = reader.get(request_id)
    assert stored is not None
    assert (stored.record.trigger, stored.record.route) == ("api", "GET /hello (ServerlessRestApi)")
    assert stored.event()["resource"] == "/hello"
    origins = [doc.get("origin") for doc in stored.trace["documents"]]
    assert "AWS::ApiGateway::Stage" in origins and "AWS::Lambda::Function" in origins
