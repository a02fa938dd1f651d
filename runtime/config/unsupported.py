"""What lambdatop does not implement in a template, said once at start instead of ignored silently.

Two kinds: properties and resources that have no local effect (each listed
once, naming the functions that set it and what lambdatop does instead), and
functions lambdatop cannot run at all (`CannotRun`: another runtime, code in
S3, a container image, inline code), which no longer stop the rest of the
template: they show in the fleet, and invoking one answers why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdatop.runtime.config.model import CannotRun

# Property -> what lambdatop does instead. When one becomes implemented, remove it here.
NOT_EMULATED: Mapping[str, str] = {
    "DurableConfig": "durable executions are not emulated: the handler runs as a plain on-demand invocation "
                     "(no checkpoints, no replay)",
    "ProvisionedConcurrencyConfig": "no provisioned concurrency: every cold start is on demand "
                                    "(AWS_LAMBDA_INITIALIZATION_TYPE=on-demand)",
    "VpcConfig": "no VPC: functions use this machine's network",
    "FileSystemConfigs": "no EFS mount: the LocalMountPath does not exist here",
    "EphemeralStorage": "no /tmp size limit: each environment's TMPDIR is a folder on this disk",
    "CodeSigningConfigArn": "code signing is not checked",
    "RuntimeManagementConfig": "the local interpreter runs, whatever the runtime management mode",
    "CapacityProviderConfig": "no capacity providers: environments are processes on this machine",
    "TenancyConfig": "tenant isolation is not emulated",
    "FunctionScalingConfig": "scaling settings are not applied (only reserved concurrency is)",
    "RecursiveLoop": "recursive loops are not detected or stopped",
}

# Resource types that would run code or workflows lambdatop does not run.
NOT_RUN_RESOURCES: Mapping[str, str] = {
    "AWS::Serverless::StateMachine": "Step Functions state machines are not run: invoke their functions directly",
    "AWS::StepFunctions::StateMachine": "Step Functions state machines are not run: invoke their functions directly",
    "AWS::Lambda::Function": "plain CloudFormation functions are not run (only AWS::Serverless::Function)",
    "AWS::Serverless::Application": "nested applications are not loaded",
}


def property_notices(path: str, used: Mapping[str, list[str]]) -> list[str]:
    """One line per unimplemented property: `used` maps a property to the functions that set it."""
    return [f"{path}: {prop} ({', '.join(functions)}): {NOT_EMULATED[prop]}"
            for prop, functions in sorted(used.items()) if functions]


def unimplemented_properties(props: Mapping[str, Any]) -> list[str]:
    return [key for key in props if key in NOT_EMULATED and props[key] not in (None, False, {}, [])]


def resource_notices(path: str, resources: Mapping[str, Any]) -> list[str]:
    by_type: dict[str, list[str]] = {}
    for rid, resource in resources.items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        if kind in NOT_RUN_RESOURCES:
            by_type.setdefault(str(kind), []).append(str(rid))
    return [f"{path}: {kind} ({', '.join(rids)}): {NOT_RUN_RESOURCES[kind]}" for kind, rids in sorted(by_type.items())]


RUNNABLE_RUNTIMES = ("python3", "nodejs", "provided")


def runtime_problem(runtime: str) -> CannotRun | None:
    """Why lambdatop cannot run `runtime`, or None if it can (the one place to widen when a runtime is added)."""
    # Python in its own worker or through awslambdaric; Node.js and custom runtimes (a `bootstrap`)
    # through the Runtime API (runtime/execution/runtimes.py).
    if runtime.startswith(RUNNABLE_RUNTIMES):
        return None
    return CannotRun(f"runtime {runtime} is not supported by lambdatop (it runs python3.x, nodejs*.x and provided* functions)")


def code_problem(props: Mapping[str, Any]) -> CannotRun | None:
    """A function whose code is not a local folder: a container image, inline code, or an S3 location."""
    if props.get("PackageType") == "Image":
        return CannotRun("container-image functions (PackageType: Image) cannot run in lambdatop", "InvalidRuntimeException")
    if "InlineCode" in props and "CodeUri" not in props:
        return CannotRun("InlineCode is not supported by lambdatop: put the code in a folder and set CodeUri",
                         "InvalidRuntimeException")
    code = props.get("CodeUri")
    if isinstance(code, dict) or (isinstance(code, str) and code.startswith("s3://")):
        return CannotRun("the code is in S3 (CodeUri is an S3 location): lambdatop runs local code only",
                         "InvalidRuntimeException")
    return None
