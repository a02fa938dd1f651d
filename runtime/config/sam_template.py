"""A SAM `template.yaml`: its `AWS::Serverless::Function` resources, with Globals and intrinsics resolved."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.config.checker import Checker, check_known_keys, check_reserved, tracing
from lambdatop.runtime.config.intrinsics import IntrinsicResolver
from lambdatop.runtime.config.deployment import read_deployment_preference
from lambdatop.runtime.config.event_source_mappings import attach_mappings
from lambdatop.runtime.config.layers import LocalLayer, function_layers, template_layers
from lambdatop.runtime.config.logging_config import SAM_KEYS, merge_globals
from lambdatop.runtime.config.model import (
    DEFAULT_ACCOUNT_ID, DEFAULT_MEMORY_MB, DEFAULT_REGION, DEFAULT_TIMEOUT_S, MEMORY_RANGE, TIMEOUT_RANGE,
    FleetConfig, FunctionConfig, ResourceValues, TemplateInputs,
)
from lambdatop.runtime.config.parameters import parameter_values
from lambdatop.runtime.config.sam_schema import FUNCTION_PROPERTIES, GLOBAL_FUNCTION_PROPERTIES, function_only
from lambdatop.runtime.config.unsupported import (
    code_problem, property_notices, resource_notices, runtime_problem, unimplemented_properties,
)
from lambdatop.runtime.config.yamlfile import LineMap

_SAM_FUNCTION = "AWS::Serverless::Function"


class SamTemplate:
    def __init__(self, path: Path, document: Any, *, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID,
                 resources: ResourceValues | None = None, inputs: TemplateInputs | None = None) -> None:
        if not isinstance(document, LineMap):
            raise ConfigError("expected a mapping at the top of the template", path=str(path))
        self.path = path
        self.document = document
        self.region = region
        self.account_id = account_id
        self.resources = resources or ResourceValues()
        self.inputs = inputs or TemplateInputs()
        self.check = Checker(path)
        self.warnings: list[str] = []
        self.dependencies = "isolated"
        self.cpu = "unlimited"
        self.parameters: dict[str, Any] = {}
        self.layer_notices: dict[str, list[str]] = {}  # a layer that cannot load -> the functions naming it

    def load(self) -> FleetConfig:
        doc = self.document
        resources = self.check.mapping(doc, "Resources")
        function_ids = [rid for rid, res in resources.items() if isinstance(res, dict) and res.get("Type") == _SAM_FUNCTION]
        resolver, physical, layers = self._resolver(resources, function_ids)
        globals_function = self.check.mapping(self.check.mapping(doc, "Globals"), "Function")
        _check_globals_function(self.path, globals_function)
        globals_function = resolver.resolve(globals_function)
        # A template's own setting for lambdatop, where CloudFormation keeps tools' settings (as cfn-lint's).
        ours = self.check.mapping(self.check.mapping(self.document, "Metadata"), "lambdatop")
        check_known_keys(ours, ("dependencies", "cpu"), section="Metadata.lambdatop", path=str(self.path), key_prefix="Metadata.lambdatop.")
        self.dependencies = self.check.dependencies(ours, "dependencies", "isolated")
        self.cpu = self.check.cpu(ours, "cpu", "unlimited")

        functions: dict[str, FunctionConfig] = {}
        not_emulated: dict[str, list[str]] = {}
        for rid in function_ids:
            resource = resources[rid]
            check = Checker(self.path, rid)
            # As SAM does: a property it does not define is an error, not a default (Timout: 5 runs 3 s otherwise).
            check.known_keys(check.mapping(resource, "Properties"), FUNCTION_PROPERTIES, f"{_SAM_FUNCTION} Properties")
            if "Condition" in resource and not resolver.condition(str(resource["Condition"])):
                continue
            props = resolver.resolve(check.mapping(resource, "Properties"))
            if not hasattr(props, "lines"):
                props = LineMap(props)
            props.line = props.line or resources.line_of(rid)
            merged = _merge_globals(globals_function, props)
            for prop in unimplemented_properties(merged):
                not_emulated.setdefault(prop, []).append(rid)
            functions[rid] = self._function(check, rid, merged, resources.line_of(rid), physical[rid], layers)
        if not functions:
            raise self.check.error(f"no {_SAM_FUNCTION} resources", resources)
        functions, unread = attach_mappings(functions, resources, resolver)  # raw mappings join Events:
        self.warnings += [f"{self.path}: {warning}" for warning in unread]
        self.warnings += property_notices(str(self.path), not_emulated) + resource_notices(str(self.path), resources)
        self.warnings += [f"{self.path}: {text} (used by {', '.join(rids)})" for text, rids in self.layer_notices.items()]
        config = FleetConfig(
            path=self.path, kind="sam", functions=functions, region=self.region, account_id=self.account_id,
            warnings=tuple(self.warnings), template_path=self.path, template=doc, inputs=self.inputs,
            parameters=self.parameters,
        )
        check_reserved(config)
        return config

    def _resolver(self, resources: LineMap, function_ids: list[str]) -> tuple[IntrinsicResolver, dict[str, str], dict[str, LocalLayer]]:
        """The intrinsics resolver, each function's physical name, and the template's own layers."""
        doc = self.document
        stack_name = os.environ.get("LAMBDATOP_STACK_NAME", self.path.parent.name or "lambdatop")
        pseudo = {
            "AWS::Region": self.region, "AWS::AccountId": self.account_id, "AWS::StackName": stack_name,
            "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::StackId":
            f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{stack_name}/local",
            "AWS::NotificationARNs": [],
        }
        parameters, unknown = parameter_values(self.path, self.check.mapping(doc, "Parameters"), self.inputs.parameters)
        self.warnings += unknown
        self.parameters = parameters
        # A function's physical name is its FunctionName (resolved against parameters and pseudo
        # parameters only, since it cannot depend on other functions), else its logical id.
        names_only = IntrinsicResolver(
            parameters=parameters, pseudo=pseudo, mappings=doc.get("Mappings") or {},
            conditions=doc.get("Conditions") or {}, function_arns={}, resource_names={},
        )
        physical = {}
        for rid in function_ids:
            props = resources[rid].get("Properties") or {}
            name = names_only.resolve(props.get("FunctionName"))
            physical[rid] = name if isinstance(name, str) and not name.startswith("<") else rid
        layers = template_layers(self.path, names_only.resolve(resources), self.region, self.account_id)
        arns = {rid: f"arn:aws:lambda:{self.region}:{self.account_id}:function:{physical[rid]}" for rid in function_ids}
        # `!Ref` of a layer is its version ARN, which the function's Layers then name (never the sidecar's copy).
        resource_names = ({rid: f"<{rid}>" for rid in resources} | dict(self.resources.names) | physical
                          | {rid: layer.arn for rid, layer in layers.items()})
        resolver = IntrinsicResolver(
            parameters=parameters, pseudo=pseudo, mappings=doc.get("Mappings") or {},
            conditions=doc.get("Conditions") or {}, function_arns=arns, resource_names=resource_names,
            resource_attributes=self.resources.attributes,
        )
        return resolver, physical, layers

    def _stand_in(self, props: LineMap) -> Path:
        """A code folder for a function lambdatop cannot run: its CodeUri when that is a local folder (shown, never
        run or watched), else the template's folder."""
        code = props.get("CodeUri")
        folder = (self.path.parent / code).resolve() if isinstance(code, str) and not code.startswith("s3://") else None
        return folder if folder is not None and folder.is_dir() else self.path.parent

    def _function(self, check: Checker, rid: str, props: LineMap, line: int | None, physical: str,
                  local_layers: dict[str, LocalLayer]) -> FunctionConfig:
        environment = check.mapping(props, "Environment")
        arch = props.get("Architectures") or ["x86_64"]
        runtime = check.runtime(props, "Runtime", "python3.11")
        cannot_run = code_problem(props) or runtime_problem(runtime)
        written = props.get("Layers") or []
        arns, layer_dirs, layer_warnings = function_layers(
            self.path, rid, written if isinstance(written, list) else [written], local_layers, line)
        if cannot_run is not None:
            self.warnings.append(f"{self.path}: function {rid!r} cannot run: {cannot_run.reason}")
        else:
            for text in layer_warnings:
                self.layer_notices.setdefault(text, []).append(rid)
        preference, notices = read_deployment_preference(props.get("DeploymentPreference"), str(self.path), line)
        self.warnings += [f"{self.path}: function {rid!r}: {notice}" for notice in notices]
        handler = check.handler_of(props, "Handler", runtime) if cannot_run is None or "Handler" in props else ""
        if cannot_run is None and "." not in handler and not runtime.startswith("provided"):
            self.warnings.append(f"{self.path}: function {rid!r}: Handler {handler!r} has no '.': every invocation fails "
                                 "at Init with Runtime.MalformedHandlerName, as on Lambda")
        return FunctionConfig(
            name=rid,
            handler=handler,
            code_dir=check.code_dir(props, "CodeUri", self.path.parent) if cannot_run is None else self._stand_in(props),
            runtime=runtime,
            memory_size=check.integer(props, "MemorySize", DEFAULT_MEMORY_MB, MEMORY_RANGE) or DEFAULT_MEMORY_MB,
            timeout=check.integer(props, "Timeout", DEFAULT_TIMEOUT_S, TIMEOUT_RANGE) or DEFAULT_TIMEOUT_S,
            environment=check.environment(environment, "Variables"),
            reserved_concurrency=check.integer(props, "ReservedConcurrentExecutions", None, (0, 1_000_000)),
            tracing=tracing(check, props, "Tracing"),
            architecture=str(arch[0]) if isinstance(arch, list) and arch else "x86_64",
            function_name=physical if physical != rid else None,
            description=check.string(props, "Description", "") or "",
            events=check.mapping(props, "Events"),
            event_invoke_config=check.mapping(props, "EventInvokeConfig"),
            dead_letter_queue=check.mapping(props, "DeadLetterQueue"),
            layers=arns,
            layer_dirs=layer_dirs,
            logging_config=check.logging(props, "LoggingConfig", SAM_KEYS),
            source=f"{self.path}:{line}",
            dependencies=self.dependencies,
            cpu=self.cpu,
            auto_publish_alias=check.alias(props, "AutoPublishAlias"),
            snap_start=check.snap_start(props, "SnapStart", runtime) if cannot_run is None else False,
            deployment_preference=preference,
            cannot_run=cannot_run,
        )


def _check_globals_function(path: Path, globals_function: LineMap) -> None:
    """Globals.Function takes a subset of a function's properties (SAM refuses the others, and typos)."""
    for key in globals_function:
        reason = function_only(str(key))
        if reason is not None:
            raise ConfigError(reason, path=str(path), line=globals_function.line_of(key), key=f"Globals.Function.{key}")
    check_known_keys(globals_function, GLOBAL_FUNCTION_PROPERTIES, section="Globals.Function", path=str(path),
                     key_prefix="Globals.Function.")


def _merge_globals(globals_function: Mapping[str, Any], props: LineMap) -> LineMap:
    """SAM's Globals: the function's own value wins; Environment.Variables merge key by key."""
    merged = LineMap({**globals_function, **props})
    if "LoggingConfig" in merged:
        merged["LoggingConfig"] = merge_globals(globals_function.get("LoggingConfig"), props.get("LoggingConfig"))
    merged.lines = {**getattr(globals_function, "lines", {}), **props.lines}
    merged.line = props.line
    global_vars = (globals_function.get("Environment") or {}).get("Variables") or {}
    own_vars = (props.get("Environment") or {}).get("Variables") or {}
    if global_vars:
        env = LineMap({"Variables": LineMap({**global_vars, **own_vars})})
        env["Variables"].lines = {**getattr(global_vars, "lines", {}), **getattr(own_vars, "lines", {})}
        env.lines = {"Variables": (props.get("Environment") or globals_function["Environment"]).line_of("Variables")}
        merged["Environment"] = env
    return merged
