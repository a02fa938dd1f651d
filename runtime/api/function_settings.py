"""Read-only settings calls of Lambda's API, answered from the template: EventInvokeConfig, policy, tags, and the
features that do not exist locally (runtime management, code signing, provisioned concurrency).

Shapes and errors as botocore's lambda model reads them; what AWS answers for a
function that lacks the setting is kept (a 404, or an empty value), so tools
written against Lambda take the same branch here.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.config import FunctionConfig
from lambdatop.runtime.config.async_settings import AsyncSettings, Target
from lambdatop.runtime.config.schedules import _resolver as template_resolver  # intrinsics as the functions saw them
from lambdatop.runtime.errors import ProvisionedConcurrencyNotFound, ResourceNotFound

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

NO_RESOURCE = "The resource you requested does not exist."  # Lambda's words for GetPolicy without a policy
SAM_TAG = {"lambda:createdBy": "SAM"}  # SAM tags every AWS::Serverless::Function it transforms
# SAM event types that make it add an AWS::Lambda::Permission for the service that pushes events.
PUSH_PRINCIPALS = {
    "Api": "apigateway.amazonaws.com", "HttpApi": "apigateway.amazonaws.com", "S3": "s3.amazonaws.com",
    "SNS": "sns.amazonaws.com", "Schedule": "events.amazonaws.com", "CloudWatchEvent": "events.amazonaws.com",
    "EventBridgeRule": "events.amazonaws.com", "CloudWatchLogs": "logs.amazonaws.com", "IoTRule": "iot.amazonaws.com",
    "AlexaSkill": "alexa-appkit.amazon.com", "Cognito": "cognito-idp.amazonaws.com",
}


def event_invoke_config(fleet: Fleet, function: FunctionConfig, modified: float) -> dict[str, Any]:
    """FunctionEventInvokeConfig of `$LATEST`; a function without EventInvokeConfig is Lambda's 404."""
    arn = fleet.function_arn(function.name, "$LATEST")
    if not function.event_invoke_config:
        raise ResourceNotFound(f"The function {arn} doesn't have an EventInvokeConfig")
    settings = AsyncSettings.of(function)
    destinations: dict[str, Any] = {}
    for key, target in (("OnSuccess", settings.on_success), ("OnFailure", settings.on_failure)):
        destinations[key] = {"Destination": _target_arn(fleet, target)} if target is not None else {}
    return {
        "LastModified": modified, "FunctionArn": arn, "MaximumRetryAttempts": settings.max_retry_attempts,
        "MaximumEventAgeInSeconds": settings.max_event_age_s, "DestinationConfig": destinations,
    }


def _target_arn(fleet: Fleet, target: Target) -> str:
    if target.arn.startswith("arn:"):
        return target.arn
    config = fleet.config
    if target.kind == "function":
        return config.function_arn(target.name)
    return f"arn:aws:sqs:{config.region}:{config.account_id}:{target.name}"


def policy(fleet: Fleet, function: FunctionConfig) -> dict[str, Any]:
    """The resource policy CloudFormation would attach: the template's AWS::Lambda::Permission resources naming the
    function, and the permissions SAM adds for its push events. None of them is enforced locally."""
    arn = fleet.function_arn(function.name)
    statements = [_statement(arn, sid, principal, None) for sid, principal in _sam_permissions(function)]
    for rid, props in _permission_resources(fleet, function):
        statements.append(_statement(arn, rid, props.get("Principal"), props.get("SourceArn"), props.get("Action")))
    if not statements:
        raise ResourceNotFound(NO_RESOURCE)
    document = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
    return {"Policy": json.dumps(document, separators=(",", ":")), "RevisionId": _revision(document)}


def _statement(arn: str, sid: str, principal: Any, source_arn: Any, action: Any = "lambda:InvokeFunction") -> dict[str, Any]:
    who = {"Service": principal} if isinstance(principal, str) and principal.endswith(".com") else {"AWS": str(principal)}
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Principal": who, "Action": str(action), "Resource": arn}
    if isinstance(source_arn, str):
        statement["Condition"] = {"ArnLike": {"AWS:SourceArn": source_arn}}
    return statement


def _sam_permissions(function: FunctionConfig) -> list[tuple[str, str]]:
    found = []
    for event_id, event in (function.events or {}).items():
        kind = event.get("Type") if isinstance(event, Mapping) else None
        if isinstance(kind, str) and kind in PUSH_PRINCIPALS:
            found.append((f"{function.name}{event_id}Permission", PUSH_PRINCIPALS[kind]))
    return found


def _permission_resources(fleet: Fleet, function: FunctionConfig) -> list[tuple[str, Mapping[str, Any]]]:
    template = fleet.config.template or {}
    resources = template.get("Resources") or {}
    if not any(isinstance(r, Mapping) and r.get("Type") == "AWS::Lambda::Permission" for r in resources.values()):
        return []
    resolver = template_resolver(fleet.config)
    names = {function.name, function.function_name, fleet.function_arn(function.name)}
    found = []
    for rid, resource in resources.items():
        if not isinstance(resource, Mapping) or resource.get("Type") != "AWS::Lambda::Permission":
            continue
        raw = resource.get("Properties") or {}
        target = raw.get("FunctionName")
        # `!Ref Fn` / `!GetAtt Fn.Arn` name the function by its logical id before any resolving.
        if isinstance(target, Mapping):
            ref = target.get("Ref") or (target.get("Fn::GetAtt") or [None])[0]
            if ref == function.name:
                found.append((str(rid), resolver.resolve(raw)))
                continue
        if resolver.resolve(target) in names:
            found.append((str(rid), resolver.resolve(raw)))
    return found


def tags(fleet: Fleet, function: FunctionConfig) -> dict[str, str]:
    """The template's Tags (Globals merged), and SAM's own `lambda:createdBy` for a Serverless function."""
    template = fleet.config.template or {}
    resource = (template.get("Resources") or {}).get(function.name)
    if not isinstance(resource, Mapping):
        return {}
    inherited = ((template.get("Globals") or {}).get("Function") or {}).get("Tags") or {}
    raw = (resource.get("Properties") or {}).get("Tags") or {}
    sam = resource.get("Type") == "AWS::Serverless::Function"
    if isinstance(raw, list):  # AWS::Lambda::Function's [{Key, Value}] form
        raw = {item.get("Key"): item.get("Value") for item in raw if isinstance(item, Mapping)}
    merged = {**(inherited if sam and isinstance(inherited, Mapping) else {}), **raw}
    if not merged and not sam:
        return {}
    resolved = template_resolver(fleet.config).resolve(dict(merged)) if merged else {}
    return {**(SAM_TAG if sam else {}), **{str(k): str(v) for k, v in resolved.items()}}


def runtime_management(fleet: Fleet, function: FunctionConfig) -> dict[str, Any]:
    """Runtime updates are Lambda's business; locally the runtime is whatever interpreter runs (Auto, no version ARN)."""
    return {"UpdateRuntimeOn": "Auto", "FunctionArn": fleet.function_arn(function.name)}


def code_signing(function: FunctionConfig) -> dict[str, Any]:
    """No code signing locally: Lambda's answer for a function without a code signing config."""
    return {"CodeSigningConfigArn": "", "FunctionName": function.function_name or function.name}


def provisioned_concurrency(function: FunctionConfig) -> dict[str, Any]:
    """Every local environment starts on demand: no provisioned concurrency config exists."""
    raise ProvisionedConcurrencyNotFound()


def _revision(document: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))
