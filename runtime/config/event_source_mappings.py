"""`AWS::Lambda::EventSourceMapping` resources, read as the SQS / DynamoDB / Kinesis events of the functions they name.

A template may wire a queue or stream to a function with a raw mapping
resource instead of the function's `Events:` (SAM itself transforms those
events into exactly this resource). `attach_mappings` resolves each one and
adds it to its function's `events` under the resource's logical id, with the
event type read from the source it names, so the trigger service runs both
the same way and the function screen lists it. What names no local function
or an unknown kind of source is a warning, never dropped silently.

It may import only the rest of lambdatop.runtime.config.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # loading.py calls attach_mappings
    from lambdatop.runtime.config.intrinsics import IntrinsicResolver
    from lambdatop.runtime.config.loading import FunctionConfig

MAPPING_TYPE = "AWS::Lambda::EventSourceMapping"
# The source's ARN says which event it is; before the sidecar made the resource, its template type does.
_KIND_OF_ARN = {":sqs:": "SQS", ":kinesis:": "Kinesis", ":dynamodb:": "DynamoDB"}
_KIND_OF_TYPE = {"AWS::SQS::Queue": "SQS", "AWS::Kinesis::Stream": "Kinesis", "AWS::DynamoDB::Table": "DynamoDB",
                 "AWS::Serverless::SimpleTable": "DynamoDB"}
_SOURCE_KEY = {"SQS": "Queue", "Kinesis": "Stream", "DynamoDB": "Stream"}
_PLACEHOLDER = re.compile(r"^<(?:GetAtt |Ref )?([A-Za-z0-9]+)")
# Properties of the resource that are not the event's (the rest carry the same names in SAM's events).
_NOT_EVENT_KEYS = {"FunctionName", "EventSourceArn"}


def attach_mappings(
    functions: Mapping[str, FunctionConfig], resources: Mapping[str, Any], resolver: IntrinsicResolver,
) -> tuple[dict[str, FunctionConfig], list[str]]:
    """The functions with each raw mapping added to its function's events; and what could not be read (warnings)."""
    out = dict(functions)
    warnings: list[str] = []
    for rid, resource in resources.items():
        if not isinstance(resource, Mapping) or resource.get("Type") != MAPPING_TYPE:
            continue
        if "Condition" in resource and not resolver.condition(str(resource["Condition"])):
            continue
        props = resolver.resolve(resource.get("Properties") or {})
        target = _function_of(out, props.get("FunctionName"))
        if target is None:
            warnings.append(f"{rid}: {MAPPING_TYPE} names {props.get('FunctionName')!r}, not a function run here; not run")
            continue
        kind = _kind_of(props.get("EventSourceArn"), resources)
        if kind is None:
            warnings.append(f"{rid}: {MAPPING_TYPE} of {props.get('EventSourceArn')!r} is not run "
                            "(lambdatop runs SQS queues and DynamoDB / Kinesis streams)")
            continue
        event = {"Type": kind, "Properties": {_SOURCE_KEY[kind]: props.get("EventSourceArn"),
                                              **{k: v for k, v in props.items() if k not in _NOT_EVENT_KEYS}}}
        function = out[target]
        out[target] = dataclasses.replace(function, events={**dict(function.events or {}), rid: event})
    return out, warnings


def _function_of(functions: Mapping[str, FunctionConfig], name: Any) -> str | None:
    """The logical id of the function a FunctionName means: its logical id, its physical name, or its ARN."""
    if not isinstance(name, str):
        return None
    name = name.split(":function:", 1)[-1].split(":", 1)[0]  # an ARN (maybe qualified) -> the name
    for rid, function in functions.items():
        if name in (rid, function.function_name):
            return rid
    return None


def _kind_of(arn: Any, resources: Mapping[str, Any]) -> str | None:
    if not isinstance(arn, str):
        return None
    for part, kind in _KIND_OF_ARN.items():
        if part in arn:
            return kind
    placeholder = _PLACEHOLDER.match(arn)
    referenced = resources.get(placeholder.group(1)) if placeholder else None
    return _KIND_OF_TYPE.get(str(referenced.get("Type"))) if isinstance(referenced, Mapping) else None
