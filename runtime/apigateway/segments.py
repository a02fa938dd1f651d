"""The API Gateway segment of a trace: the request as the API saw it, above the function's segments.

Its id is the `Parent` of the trace header the API hands to `Fleet.invoke`,
so the `AWS::Lambda` segment (and through it the function's) nests under it,
as the X-Ray console draws `API stage → Lambda → function`. An authorizer's
invocation is a second child of the same segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdatop.runtime.apigateway.model import ApiDefinition, ApiKind

ORIGIN = "AWS::ApiGateway::Stage"


@dataclass(frozen=True)
class ApiRequestSpan:
    """One request through the API, from arrival to answer."""

    trace_id: str
    segment_id: str
    api: ApiDefinition
    method: str
    url: str
    client_ip: str
    user_agent: str
    route_key: str
    request_id: str
    start: float
    end: float
    status: int
    account_id: str
    region: str


def api_segment(span: ApiRequestSpan) -> dict[str, Any]:
    api = span.api
    kind = "restapis" if api.kind is ApiKind.REST else "apis"
    document: dict[str, Any] = {
        "id": span.segment_id,
        "name": f"{api.logical_id}/{api.stage}",
        "trace_id": span.trace_id,
        "start_time": span.start,
        "end_time": max(span.end, span.start),
        "origin": ORIGIN,
        "resource_arn": f"arn:aws:apigateway:{span.region}::/{kind}/{api.api_id}/stages/{api.stage}",
        "http": {
            "request": {"url": span.url, "method": span.method, "user_agent": span.user_agent, "client_ip": span.client_ip},
            "response": {"status": span.status},
        },
        "aws": {"api_gateway": {"account_id": span.account_id, "rest_api_id": api.api_id, "stage": api.stage,
                                "request_id": span.request_id}},
        "annotations": {"aws:api_id": api.api_id, "aws:api_stage": api.stage, "route": span.route_key},
    }
    if span.status == 429:
        document["error"] = document["throttle"] = True
    elif 400 <= span.status < 500:
        document["error"] = True
    elif span.status >= 500:
        document["fault"] = True
    return document
