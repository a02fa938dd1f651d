"""The template's non-function resources as one CloudFormation stack in the emulator.

`plan_stack` turns the SAM template as written into a plain CloudFormation
template moto's CloudFormation can create: the resource types it supports, a
SimpleTable as the DynamoDB table SAM would make, references to functions
replaced by their names and ARNs, and one Output per attribute anything may
`!GetAtt`. What it cannot create is listed, never silently dropped.
`LocalStack.apply` creates or updates the stack (so a template change adds and
removes resources live) and reads back what `!Ref`/`!GetAtt` resolve to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdatop.runtime.aws.secrets import SECRET_TYPE
from lambdatop.runtime.config import FleetConfig, ResourceValues

# The types moto's CloudFormation creates without Docker, and the attributes worth reading back.
CREATABLE: Mapping[str, tuple[str, ...]] = {
    "AWS::SQS::Queue": ("Arn", "QueueName", "QueueUrl"),
    "AWS::SNS::Topic": ("TopicName",),  # the Ref is the ARN
    "AWS::SNS::Subscription": (),
    "AWS::S3::Bucket": ("Arn", "DomainName", "RegionalDomainName"),
    "AWS::DynamoDB::Table": ("Arn", "StreamArn"),
    "AWS::Kinesis::Stream": ("Arn",),
    "AWS::Events::EventBus": ("Arn", "Name"),
    "AWS::Events::Rule": ("Arn",),
    "AWS::SSM::Parameter": ("Type", "Value"),
    "AWS::SQS::QueuePolicy": (),
    "AWS::SNS::TopicPolicy": (),
}
SIMPLE_TABLE = "AWS::Serverless::SimpleTable"
# Types that mean nothing for a local run (permissions, roles, log groups, what lambdatop itself runs).
NOT_NEEDED_PREFIXES = ("AWS::IAM::", "AWS::Lambda::", "AWS::Logs::", "AWS::Serverless::Function", "AWS::Serverless::Api",
                       "AWS::Serverless::HttpApi", "AWS::ApiGateway", "AWS::Serverless::LayerVersion",
                       "AWS::CloudWatch::Alarm", "AWS::Serverless::Application")
STATE_MACHINES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
_UNSUPPORTED_ATTRIBUTE = re.compile(r"resource (\w+) does not support attribute type (\w+)")


@dataclass(frozen=True)
class StackPlan:
    """What goes to the emulator's CloudFormation, and what does not (with why)."""

    template: dict[str, Any]
    resources: dict[str, str]  # logical id -> type, of the resources in the stack
    outputs: dict[str, tuple[str, str]]  # output key -> (logical id, attribute)
    skipped: dict[str, str] = field(default_factory=dict)  # logical id -> why it is not created
    not_needed: tuple[str, ...] = ()
    # Created by hand beside the stack (runtime/aws/secrets.py), as moto's CloudFormation lacks them; in `resources` too.
    hand_made: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Whether the stack itself has nothing to create."""
        return not self.template.get("Resources")

    def warnings(self) -> list[str]:
        return [f"{rid}: {why}" for rid, why in sorted(self.skipped.items())]


def _sort_resources(
    all_resources: Mapping[str, Any],
) -> tuple[dict[str, dict[str, Any]], dict[str, str], list[str], dict[str, dict[str, Any]]]:
    """The template's resources in four piles: in the stack, not run (with why), not needed locally, made by hand."""
    kept: dict[str, dict[str, Any]] = {}
    hand_made: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    not_needed: list[str] = []
    for rid, resource in all_resources.items():
        kind = str(resource.get("Type", "")) if isinstance(resource, Mapping) else ""
        if kind == "AWS::SNS::Subscription" and str((resource.get("Properties") or {}).get("Protocol", "")).lower() == "lambda":
            skipped[rid] = "an SNS subscription of a function is delivered only when written as the function's SNS event"
        elif kind in CREATABLE:
            kept[rid] = _plain(resource)
        elif kind == SIMPLE_TABLE:
            kept[rid] = _simple_table(resource)
        elif kind == SECRET_TYPE:
            hand_made[rid] = _plain(resource)
        elif kind in STATE_MACHINES:
            skipped[rid] = "Step Functions state machines are not run locally"
        elif kind.startswith(NOT_NEEDED_PREFIXES):
            not_needed.append(rid)
        else:
            skipped[rid] = f"{kind or 'a resource without a Type'} is not created locally (moto's CloudFormation lacks it)"
    return kept, skipped, not_needed, hand_made


def plan_stack(config: FleetConfig, stack_name: str) -> StackPlan:
    document = config.template or {}
    all_resources = document.get("Resources") or {}
    functions = {rid for rid, r in all_resources.items() if isinstance(r, Mapping) and r.get("Type") in _FUNCTION_TYPES}
    kept, skipped, not_needed, hand_made = _sort_resources(all_resources)
    arns = {rid: config.function_arn(_function_name(config, rid)) for rid in functions}
    names = {rid: _function_name(config, rid) for rid in functions}
    outside = set(all_resources) - set(kept)  # a secret too: the stack cannot reference what is not in it
    rewrite = _References(names, arns, outside)
    resources = {rid: rewrite.resolve(_without_lambda_targets(r, arns)) for rid, r in kept.items()}
    for rid, resource in resources.items():
        if resource["Type"] == "AWS::SSM::Parameter":  # moto needs a Name; CloudFormation would generate one
            resource.setdefault("Properties", {}).setdefault("Name", f"/{stack_name}/{rid}")
    outputs: dict[str, tuple[str, str]] = {}
    for rid, resource in resources.items():
        attributes = set(CREATABLE.get(resource["Type"], ())) | rewrite.attributes.get(rid, set())
        if resource["Type"] == "AWS::DynamoDB::Table" and "StreamSpecification" not in (resource.get("Properties") or {}):
            attributes.discard("StreamArn")
        if resource["Type"] == "AWS::SQS::Queue":
            attributes.discard("QueueUrl")  # the Ref is the URL
        for attribute in sorted(attributes):
            outputs[f"O{len(outputs)}"] = (rid, attribute)
    template: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources,
                                "Outputs": {key: {"Value": {"Fn::GetAtt": [rid, attribute]}}
                                            for key, (rid, attribute) in outputs.items()}}
    for section in ("Parameters", "Mappings", "Conditions"):
        if document.get(section):
            template[section] = _plain(document[section])
    types = {rid: r["Type"] for rid, r in resources.items()} | {rid: SECRET_TYPE for rid in hand_made}
    return StackPlan(template, types, outputs, skipped, tuple(not_needed), hand_made)


def stack_name_for(config: FleetConfig) -> str:
    """A CloudFormation stack name from the project folder (letters, digits, hyphens; starts with a letter)."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", config.root.name).strip("-") or "lambdatop"
    return name if name[0].isalpha() else f"lt-{name}"


class LocalStack:
    """The stack in the emulator: created, updated on a template change, read back as ResourceValues.

    Blocking (boto3): call it from a thread.
    """

    def __init__(self, cloudformation: Any, endpoint_url: str, name: str) -> None:
        self.cloudformation = cloudformation
        self.endpoint_url = endpoint_url
        self.name = name
        self.exists = False
        self.physical: dict[str, str] = {}  # logical id -> physical id (queue URLs made local)

    def apply(self, plan: StackPlan) -> ResourceValues:
        if plan.empty:
            self.delete()
            return ResourceValues()
        for _ in range(len(plan.outputs) + 1):
            try:
                self._submit(json.dumps(plan.template))
                break
            except self.cloudformation.exceptions.ClientError as error:
                # An attribute this moto version cannot read back: drop its Output, keep the resource.
                unsupported = _UNSUPPORTED_ATTRIBUTE.search(str(error))
                if unsupported is None:
                    raise
                kind, attribute = unsupported.group(1), unsupported.group(2)  # moto names the type, not the resource
                for key in [k for k, (rid, att) in plan.outputs.items()
                            if att == attribute and plan.resources[rid].rsplit("::", 1)[-1] == kind]:
                    del plan.outputs[key]
                    del plan.template["Outputs"][key]
        return self.read(plan)

    def _submit(self, body: str) -> None:
        if not self.exists:
            self.cloudformation.create_stack(StackName=self.name, TemplateBody=body)
            self.exists = True
        else:
            try:
                self.cloudformation.update_stack(StackName=self.name, TemplateBody=body)
            except self.cloudformation.exceptions.ClientError as error:
                if "No updates are to be performed" not in str(error):
                    raise

    def read(self, plan: StackPlan) -> ResourceValues:
        stack = self.cloudformation.describe_stacks(StackName=self.name)["Stacks"][0]
        described = self.cloudformation.describe_stack_resources(StackName=self.name)["StackResources"]
        names: dict[str, str] = {}
        for resource in described:
            physical = resource.get("PhysicalResourceId")
            if physical:
                names[resource["LogicalResourceId"]] = self._local(resource["ResourceType"], physical)
        attributes: dict[tuple[str, str], str] = {}
        for output in stack.get("Outputs") or ():
            key = plan.outputs.get(output["OutputKey"])
            if key is not None:
                attributes[key] = str(output["OutputValue"])
        for rid, kind in plan.resources.items():
            if kind == "AWS::SQS::Queue" and rid in names:
                attributes[(rid, "QueueUrl")] = names[rid]
            if kind == "AWS::Events::EventBus" and rid not in names and (rid, "Name") in attributes:
                names[rid] = attributes[(rid, "Name")]
        self.physical = names
        return ResourceValues(names=names, attributes=attributes)

    def delete(self) -> None:
        if self.exists:
            self.cloudformation.delete_stack(StackName=self.name)
            self.exists = False
            self.physical = {}

    def _local(self, kind: str, physical: str) -> str:
        # moto's CloudFormation hands out AWS's own queue URLs; the ones workers can reach point here.
        if kind == "AWS::SQS::Queue" and physical.startswith("https://sqs."):
            return self.endpoint_url.rstrip("/") + "/" + physical.split("/", 3)[3]
        return physical


class _References:
    """Rewrites Ref/GetAtt/Sub to resources outside the stack: functions to their names and ARNs, the rest to text."""

    def __init__(self, names: Mapping[str, str], arns: Mapping[str, str], outside: set[str]) -> None:
        self.names, self.arns, self.outside = names, arns, outside
        self.attributes: dict[str, set[str]] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                (key, arg), = value.items()
                if key == "Ref" and isinstance(arg, str) and arg in self.outside:
                    return self.names.get(arg, f"<Ref {arg}>")
                if key == "Fn::GetAtt":
                    parts = arg.split(".", 1) if isinstance(arg, str) else list(arg)
                    if len(parts) == 2 and isinstance(parts[0], str):
                        if parts[0] in self.outside:
                            return self.arns.get(parts[0], f"<GetAtt {parts[0]}.{parts[1]}>")
                        self.attributes.setdefault(parts[0], set()).add(str(parts[1]))
                        return {"Fn::GetAtt": parts}
                if key == "Fn::Sub" and isinstance(arg, str):
                    return {"Fn::Sub": self._sub(arg)}
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _sub(self, text: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            token = match.group(1)
            base, _, attribute = token.partition(".")
            if base in self.outside:
                return self.arns.get(base, "") if attribute else self.names.get(base, f"<{base}>")
            if attribute:
                self.attributes.setdefault(base, set()).add(attribute)
            return match.group(0)

        return re.sub(r"\$\{([^!}][^}]*)\}", substitute, text)


def _function_name(config: FleetConfig, rid: str) -> str:
    function = config.functions.get(rid)
    return (function.function_name or function.name) if function else rid


def _plain(value: Any) -> Any:
    """The template's LineMaps as plain dicts and lists (JSON for the emulator)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _simple_table(resource: Mapping[str, Any]) -> dict[str, Any]:
    """AWS::Serverless::SimpleTable as SAM transforms it: one hash key (default `id` of type String), on demand."""
    props = _plain(resource.get("Properties") or {})
    key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    kind = {"String": "S", "Number": "N", "Binary": "B"}.get(str(key.get("Type", "String")), "S")
    table: dict[str, Any] = {
        "AttributeDefinitions": [{"AttributeName": key.get("Name", "id"), "AttributeType": kind}],
        "KeySchema": [{"AttributeName": key.get("Name", "id"), "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if props.get("TableName"):
        table["TableName"] = props["TableName"]
    if props.get("ProvisionedThroughput"):
        table["BillingMode"] = "PROVISIONED"
        table["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    if props.get("SSESpecification"):
        table["SSESpecification"] = props["SSESpecification"]
    return {"Type": "AWS::DynamoDB::Table", "Properties": table}


def _without_lambda_targets(resource: dict[str, Any], arns: Mapping[str, str]) -> dict[str, Any]:
    """Strip what would make the emulator invoke a function itself (it cannot without Docker); lambdatop routes those."""
    props = resource.get("Properties")
    if not isinstance(props, dict):
        return resource
    kind = resource.get("Type")
    if kind == "AWS::S3::Bucket" and isinstance(props.get("NotificationConfiguration"), dict):
        props["NotificationConfiguration"].pop("LambdaConfigurations", None)
    if kind == "AWS::Events::Rule" and isinstance(props.get("Targets"), list):
        props["Targets"] = [t for t in props["Targets"] if not _names_function(t.get("Arn"), arns)]
    return resource


def _names_function(value: Any, arns: Mapping[str, str]) -> bool:
    """Whether a target's Arn is one of the template's functions (a Ref, a GetAtt or the ARN itself)."""
    if isinstance(value, dict) and len(value) == 1:
        key, arg = next(iter(value.items()))
        if key == "Fn::GetAtt":
            target = arg.split(".", 1)[0] if isinstance(arg, str) else arg[0]
            return target in arns
        if key == "Ref":
            return arg in arns
    return isinstance(value, str) and value in arns.values()
