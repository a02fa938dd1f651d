"""The fleet's configuration: from a SAM `template.yaml` or our own `lambdatop.yaml`.

Both load into the same `FleetConfig`. Validation follows Lambda's limits and
every error names the file, the line, the function and the key, so a typo is
found by reading one message.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.config.intrinsics import IntrinsicResolver
from lambdatop.runtime.config.sam_schema import FUNCTION_PROPERTIES, GLOBAL_FUNCTION_PROPERTIES, function_only
from lambdatop.runtime.config.yamlfile import LineMap, line_of, load_yaml

DEFAULT_ACCOUNT_CONCURRENCY = 1000
UNRESERVED_MINIMUM = 100  # Lambda keeps 100 of the account's concurrency unreserved
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_S = 3
DEFAULT_IDLE_TIMEOUT_S = 600.0  # how long an idle environment stays warm here
MEMORY_RANGE = (128, 10240)
# What a function can import: "isolated" (its folder, layers, requirements.txt and the runtime's boto3,
# as on Lambda) or "shared" (also everything installed beside lambdatop, as before requirements.txt installs).
DEPENDENCIES = ("isolated", "shared")
TIMEOUT_RANGE = (1, 900)

# Looked for in this order in the working directory; the last is the repo's own samples.
CONFIG_CANDIDATES = ("lambdatop.yaml", "lambdatop.yml", "template.yaml", "template.yml", "sample_functions/template.yaml")


@dataclass(frozen=True)
class FunctionConfig:
    """One function, as lambdatop runs it."""

    name: str  # the logical id in a SAM template; what the CLI and UI call it
    handler: str
    code_dir: Path
    runtime: str = "python3.11"
    memory_size: int = DEFAULT_MEMORY_MB
    timeout: int = DEFAULT_TIMEOUT_S
    environment: Mapping[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_S
    freeze: bool = True
    tracing: str = "PassThrough"
    architecture: str = "x86_64"
    function_name: str | None = None  # FunctionName, when the template sets one
    description: str = ""
    # Kept raw for the capabilities that read them (triggers, async config, DLQ).
    events: Mapping[str, Any] = field(default_factory=dict)
    event_invoke_config: Mapping[str, Any] = field(default_factory=dict)
    dead_letter_queue: Mapping[str, Any] = field(default_factory=dict)
    layers: tuple[str, ...] = ()
    source: str = ""  # "file:line" where the function is defined
    dependencies: str = "isolated"  # one of DEPENDENCIES

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the function answers to."""
        if self.function_name and self.function_name != self.name:
            return (self.name, self.function_name)
        return (self.name,)

    @property
    def events_dir(self) -> Path:
        return self.code_dir / "events"

    def fingerprint(self) -> str:
        """A hash of the settings that shape an environment; a change means new environments."""
        parts = [self.handler, str(self.code_dir), self.runtime, str(self.memory_size), str(self.timeout),
                 repr(sorted(self.environment.items())), self.tracing, self.dependencies]
        return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class FleetConfig:
    path: Path
    kind: str  # "sam" or "lambdatop"
    functions: Mapping[str, FunctionConfig]
    account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    # Sections other capabilities read (store, async, alarms, http), kept as written.
    sections: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # The SAM template as written (tags in long form, intrinsics unresolved), for the capabilities
    # that read more than its functions: API routes, the AWS resources, event sources. None for a
    # lambdatop.yaml without `template:`.
    template_path: Path | None = None
    template: Mapping[str, Any] | None = None

    @property
    def root(self) -> Path:
        return self.path.parent

    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn


def find_config(start: Path | None = None) -> Path:
    """The config file lambdatop uses when none is named."""
    base = start or Path.cwd()
    for candidate in CONFIG_CANDIDATES:
        path = base / candidate
        if path.is_file():
            return path
    raise ConfigError(f"no {', '.join(CONFIG_CANDIDATES[:4])} here; name one with --config", path=str(base))


@dataclass(frozen=True)
class ResourceValues:
    """What `!Ref`/`!GetAtt` of a template's non-function resources resolve to, once they exist locally.

    `names`: logical id -> Ref value (queue URL, table name, topic ARN...);
    `attributes`: (logical id, attribute) -> GetAtt value. The AWS services
    (runtime/aws/) fill it in; without it they resolve to placeholders.
    """

    names: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[tuple[str, str], str] = field(default_factory=dict)


def load_config(path: Path | str | None = None, *, resources: ResourceValues | None = None) -> FleetConfig:
    """Load and validate a lambdatop.yaml or a SAM template (`resources`: the local resources' names, if created)."""
    config_path = Path(path) if path else find_config()
    config_path = config_path.resolve()
    document = load_yaml(config_path)
    if not isinstance(document, LineMap):
        raise ConfigError("expected a mapping at the top of the file", path=str(config_path))
    if "Resources" in document or "AWSTemplateFormatVersion" in document or "Transform" in document:
        config = _SamTemplate(config_path, document, resources=resources).load()
    else:
        config = _LambdatopFile(config_path, document, resources=resources).load()
    _check_sections(config)
    return config


def _check_sections(config: FleetConfig) -> None:
    """The capabilities' sections (`store:`, `async:`, `http:`, `reload:`) and each function's
    EventInvokeConfig / DeadLetterQueue, checked at load time, so a typo fails every command alike."""
    from lambdatop.runtime.config.async_settings import AsyncSettings, QueueSettings
    from lambdatop.runtime.config.http_settings import HttpSettings
    from lambdatop.runtime.config.reload_settings import ReloadSettings
    from lambdatop.runtime.config.store_settings import StoreSettings
    from lambdatop.runtime.config.api_settings import ApiSettings
    from lambdatop.runtime.config.aws_settings import AwsSettings

    for settings in (StoreSettings, QueueSettings, HttpSettings, ReloadSettings, ApiSettings, AwsSettings):
        settings.from_config(config)
    for function in config.functions.values():
        AsyncSettings.of(function)
    from lambdatop.runtime.config.schedules import read_schedules

    read_schedules(config)  # Schedule / ScheduleV2 events and scheduled rules, with the line of a bad expression


# -- validation helpers ----------------------------------------------------------


class _Checker:
    """Reads typed values out of a LineMap, raising errors that point at the line."""

    def __init__(self, path: Path, function: str | None = None) -> None:
        self.path = path
        self.function = function

    def error(self, message: str, mapping: LineMap | None = None, key: str | None = None) -> ConfigError:
        line = mapping.line_of(key) if isinstance(mapping, LineMap) and key is not None else getattr(mapping, "line", None)
        return ConfigError(message, path=str(self.path), line=line, function=self.function, key=key)

    def integer(self, mapping: LineMap, key: str, default: int | None, bounds: tuple[int, int] | None = None) -> int | None:
        if key not in mapping or mapping[key] is None:
            return default
        value = mapping[key]
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            else:
                raise self.error(f"must be a whole number, got {value!r}", mapping, key)
        if bounds and not bounds[0] <= value <= bounds[1]:
            raise self.error(f"must be between {bounds[0]} and {bounds[1]}, got {value}", mapping, key)
        return value

    def number(self, mapping: LineMap, key: str, default: float) -> float:
        value = mapping.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self.error(f"must be a non-negative number, got {value!r}", mapping, key)
        return float(value)

    def boolean(self, mapping: LineMap, key: str, default: bool) -> bool:
        value = mapping.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"must be true or false, got {value!r}", mapping, key)
        return value

    def string(self, mapping: LineMap, key: str, default: str | None = None, required: bool = False) -> str | None:
        if key not in mapping or mapping[key] is None:
            if required:
                raise self.error("is required", mapping, key)
            return default
        value = mapping[key]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise self.error(f"must be a string, got {type(value).__name__}", mapping, key)
        return value

    def mapping(self, mapping: LineMap, key: str) -> LineMap:
        value = mapping.get(key)
        if value is None:
            empty = LineMap()
            empty.line = mapping.line_of(key) if isinstance(mapping, LineMap) else None
            return empty
        if not isinstance(value, dict):
            raise self.error(f"must be a mapping, got {type(value).__name__}", mapping, key)
        return value if isinstance(value, LineMap) else LineMap(value)  # resolved intrinsics give plain dicts

    def known_keys(self, mapping: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
        check_known_keys(mapping, allowed, section=where, path=str(self.path), function=self.function)

    def environment(self, mapping: LineMap, key: str) -> dict[str, str]:
        variables = self.mapping(mapping, key)
        result: dict[str, str] = {}
        for name, value in variables.items():
            if isinstance(value, (dict, list)):
                raise self.error(f"variable {name} must be a string, got {type(value).__name__}", variables, name)
            result[str(name)] = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
        size = sum(len(k) + len(v) for k, v in result.items())
        if size > 4096:
            raise self.error(f"environment variables total {size} bytes; Lambda allows 4 KB", mapping, key)
        return result

    def handler(self, mapping: LineMap, key: str) -> str:
        handler = self.string(mapping, key, required=True)
        assert handler is not None
        if "." not in handler or handler.startswith(".") or handler.endswith("."):
            raise self.error(f"handler {handler!r} must look like module.function", mapping, key)
        return handler

    def runtime(self, mapping: LineMap, key: str, default: str) -> str:
        runtime = self.string(mapping, key, default) or default
        if not runtime.startswith("python3"):
            raise self.error(f"runtime {runtime!r} is not supported: lambdatop runs Python functions only", mapping, key)
        return runtime

    def code_dir(self, mapping: LineMap, key: str, base: Path, default: str = ".") -> Path:
        value = mapping.get(key, default)
        if not isinstance(value, str):
            raise self.error("must be a local folder (S3 locations cannot run locally)", mapping, key)
        folder = (base / value).resolve()
        if not folder.is_dir():
            raise self.error(f"code folder {value!r} does not exist", mapping, key)
        return folder


def check_known_keys(
    mapping: Mapping[str, Any],
    allowed: Iterable[str],
    *,
    section: str,
    path: str,
    key_prefix: str = "",
    function: str | None = None,
    line: int | None = None,
) -> None:
    """Refuse a key `section` does not have: name its line, and the key probably meant (else the known ones).

    `key_prefix` ("store.") qualifies the key in the error; `line` is where to
    point when the mapping carries no line numbers of its own.
    """
    known = sorted(allowed)
    for key in mapping:
        if key in known:
            continue
        hint = difflib.get_close_matches(str(key), known, n=1)
        suggestion = f"did you mean {hint[0]!r}?" if hint else f"known: {', '.join(known)}"
        raise ConfigError(
            f"unknown key in {section} ({suggestion})", path=path, line=line_of(mapping, key) or line,
            function=function, key=f"{key_prefix}{key}",
        )


def check_reserved(config: FleetConfig) -> None:
    """Reserved concurrency may not leave less than 100 of the account unreserved."""
    total = 0
    for function in config.functions.values():
        if function.reserved_concurrency is None:
            continue
        total += function.reserved_concurrency
        limit = config.account_concurrency - UNRESERVED_MINIMUM
        if function.reserved_concurrency > limit or total > limit:
            raise ConfigError(
                f"reserved concurrency {function.reserved_concurrency} leaves less than {UNRESERVED_MINIMUM} of the "
                f"account limit {config.account_concurrency} unreserved (at most {limit} may be reserved in total)",
                path=function.source.rsplit(":", 1)[0] or str(config.path),
                line=int(function.source.rsplit(":", 1)[1]) if ":" in function.source else None,
                function=function.name,
                key="ReservedConcurrentExecutions" if config.kind == "sam" else "reserved_concurrency",
            )


# -- lambdatop.yaml ----------------------------------------------------------------

_TOP_KEYS = {"account", "defaults", "functions", "template", "store", "async", "alarms", "http", "reload", "api", "aws"}
_ACCOUNT_KEYS = {"concurrency_limit", "region", "account_id"}
_FUNCTION_KEYS = {
    "handler", "code", "runtime", "memory_size", "timeout", "environment", "reserved_concurrency",
    "idle_timeout", "freeze", "tracing", "architecture", "description", "events", "async", "dead_letter_queue",
    "layers", "dependencies",
}
_DEFAULT_KEYS = _FUNCTION_KEYS - {"handler", "code", "description", "events"}


class _LambdatopFile:
    def __init__(self, path: Path, document: LineMap, *, resources: ResourceValues | None = None) -> None:
        self.path = path
        self.resources = resources
        self.document = document
        self.check = _Checker(path)

    def load(self) -> FleetConfig:
        doc = self.document
        self.check.known_keys(doc, _TOP_KEYS, "lambdatop.yaml")
        account = self.check.mapping(doc, "account")
        self.check.known_keys(account, _ACCOUNT_KEYS, "account")
        limit = self.check.integer(account, "concurrency_limit", DEFAULT_ACCOUNT_CONCURRENCY, (1, 1_000_000))
        region = self.check.string(account, "region", DEFAULT_REGION) or DEFAULT_REGION
        account_id = self.check.string(account, "account_id", DEFAULT_ACCOUNT_ID) or DEFAULT_ACCOUNT_ID
        defaults = self.check.mapping(doc, "defaults")
        self.check.known_keys(defaults, _DEFAULT_KEYS, "defaults")
        sections = {key: doc[key] for key in ("store", "async", "alarms", "http", "reload", "api", "aws") if key in doc}

        functions: dict[str, FunctionConfig] = {}
        warnings: list[str] = []
        sam: FleetConfig | None = None
        if "template" in doc:
            template_path = (self.path.parent / str(doc["template"])).resolve()
            if not template_path.is_file():
                raise self.check.error(f"template {doc['template']!r} does not exist", doc, "template")
            sam = _SamTemplate(template_path, load_yaml(template_path), region=region, account_id=account_id,
                               resources=self.resources).load()
            functions.update(sam.functions)
            warnings.extend(sam.warnings)

        entries = self.check.mapping(doc, "functions")
        for name, entry in entries.items():
            checker = _Checker(self.path, str(name))
            if entry is None:
                entry = LineMap()
                entry.line = entries.line_of(name)
            if not isinstance(entry, dict):
                raise checker.error("must be a mapping of settings", entries, str(name))
            if not isinstance(entry, LineMap):
                entry = LineMap(entry)
            checker.known_keys(entry, _FUNCTION_KEYS, f"function {name}")
            if name in functions and "handler" not in entry:
                functions[name] = self._override(checker, functions[name], entry)
            else:
                functions[str(name)] = self._function(checker, str(name), entry, defaults, entries.line_of(name))
        # Defaults apply to functions that came from a template too (idle timeout, freeze).
        for name, function in list(functions.items()):
            if function.source.startswith(str(self.path)):
                continue
            functions[name] = self._override(_Checker(self.path, name), function, defaults)

        if not functions:
            raise self.check.error("no functions defined (add a 'functions:' mapping or a 'template:')", doc)
        config = FleetConfig(
            path=self.path, kind="lambdatop", functions=functions, account_concurrency=limit or DEFAULT_ACCOUNT_CONCURRENCY,
            region=region, account_id=account_id, sections=sections, warnings=tuple(warnings),
            template_path=sam.template_path if sam else None, template=sam.template if sam else None,
        )
        check_reserved(config)
        return config

    def _setting(self, entry: LineMap, defaults: LineMap, key: str) -> tuple[LineMap, str]:
        """Where a setting comes from: the function's own entry, else the defaults."""
        return (entry, key) if key in entry else (defaults, key)

    def _function(self, check: _Checker, name: str, entry: LineMap, defaults: LineMap, line: int | None) -> FunctionConfig:
        def pick(key: str) -> tuple[LineMap, str]:
            return self._setting(entry, defaults, key)

        async_config = check.mapping(*pick("async"))
        return FunctionConfig(
            name=name,
            handler=check.handler(entry, "handler"),
            code_dir=check.code_dir(entry, "code", self.path.parent, default=name),
            runtime=check.runtime(*pick("runtime"), "python3.11"),
            memory_size=check.integer(*pick("memory_size"), DEFAULT_MEMORY_MB, MEMORY_RANGE) or DEFAULT_MEMORY_MB,
            timeout=check.integer(*pick("timeout"), DEFAULT_TIMEOUT_S, TIMEOUT_RANGE) or DEFAULT_TIMEOUT_S,
            environment={**check.environment(defaults, "environment"), **check.environment(entry, "environment")},
            reserved_concurrency=check.integer(entry, "reserved_concurrency", None, (0, 1_000_000)),
            idle_timeout=check.number(*pick("idle_timeout"), DEFAULT_IDLE_TIMEOUT_S),
            freeze=check.boolean(*pick("freeze"), True),
            tracing=_tracing(check, *pick("tracing")),
            architecture=check.string(*pick("architecture"), "x86_64") or "x86_64",
            description=check.string(entry, "description", "") or "",
            events=check.mapping(entry, "events"),
            event_invoke_config=async_config,
            dead_letter_queue=check.mapping(*pick("dead_letter_queue")),
            layers=tuple(str(x) for x in (entry.get("layers") or defaults.get("layers") or ())),
            source=f"{self.path}:{line}",
            dependencies=_dependencies(check, *pick("dependencies"), "isolated"),
        )

    def _override(self, check: _Checker, function: FunctionConfig, entry: LineMap) -> FunctionConfig:
        """lambdatop-only settings laid over a function that came from a template."""
        changes: dict[str, Any] = {}
        if "idle_timeout" in entry:
            changes["idle_timeout"] = check.number(entry, "idle_timeout", DEFAULT_IDLE_TIMEOUT_S)
        if "freeze" in entry:
            changes["freeze"] = check.boolean(entry, "freeze", True)
        if "memory_size" in entry:
            changes["memory_size"] = check.integer(entry, "memory_size", None, MEMORY_RANGE)
        if "timeout" in entry:
            changes["timeout"] = check.integer(entry, "timeout", None, TIMEOUT_RANGE)
        if "reserved_concurrency" in entry:
            changes["reserved_concurrency"] = check.integer(entry, "reserved_concurrency", None, (0, 1_000_000))
        if "environment" in entry:
            changes["environment"] = {**function.environment, **check.environment(entry, "environment")}
        if "dependencies" in entry:
            changes["dependencies"] = _dependencies(check, entry, "dependencies", function.dependencies)
        return replace(function, **changes) if changes else function


def _dependencies(check: _Checker, mapping: LineMap, key: str, default: str) -> str:
    value = check.string(mapping, key, default) or default
    if value not in DEPENDENCIES:
        raise check.error(f"must be {' or '.join(DEPENDENCIES)}, got {value!r}", mapping, key)
    return value


def _tracing(check: _Checker, mapping: LineMap, key: str) -> str:
    value = check.string(mapping, key, "PassThrough") or "PassThrough"
    if value not in ("Active", "PassThrough"):
        raise check.error(f"must be Active or PassThrough, got {value!r}", mapping, key)
    return value


# -- SAM template.yaml -------------------------------------------------------------

_SAM_FUNCTION = "AWS::Serverless::Function"


class _SamTemplate:
    def __init__(self, path: Path, document: Any, *, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID,
                 resources: ResourceValues | None = None) -> None:
        if not isinstance(document, LineMap):
            raise ConfigError("expected a mapping at the top of the template", path=str(path))
        self.path = path
        self.document = document
        self.region = region
        self.account_id = account_id
        self.resources = resources or ResourceValues()
        self.check = _Checker(path)
        self.dependencies = "isolated"

    def load(self) -> FleetConfig:
        doc = self.document
        resources = self.check.mapping(doc, "Resources")
        stack_name = os.environ.get("LAMBDATOP_STACK_NAME", self.path.parent.name or "lambdatop")
        pseudo = {
            "AWS::Region": self.region, "AWS::AccountId": self.account_id, "AWS::StackName": stack_name,
            "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::StackId":
            f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{stack_name}/local",
            "AWS::NotificationARNs": [],
        }
        parameters = {}
        for name, spec in self.check.mapping(doc, "Parameters").items():
            default = spec.get("Default") if isinstance(spec, dict) else None
            parameters[name] = str(default) if default is not None else f"<Parameter {name}>"
        function_ids = [rid for rid, res in resources.items() if isinstance(res, dict) and res.get("Type") == _SAM_FUNCTION]
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
        arns = {rid: f"arn:aws:lambda:{self.region}:{self.account_id}:function:{physical[rid]}" for rid in function_ids}
        resource_names = {rid: f"<{rid}>" for rid in resources} | dict(self.resources.names) | physical
        resolver = IntrinsicResolver(
            parameters=parameters, pseudo=pseudo, mappings=doc.get("Mappings") or {},
            conditions=doc.get("Conditions") or {}, function_arns=arns, resource_names=resource_names,
            resource_attributes=self.resources.attributes,
        )
        globals_function = self.check.mapping(self.check.mapping(doc, "Globals"), "Function")
        _check_globals_function(self.path, globals_function)
        globals_function = resolver.resolve(globals_function)

        # A template's own setting for lambdatop, where CloudFormation keeps tools' settings (as cfn-lint's).
        ours = self.check.mapping(self.check.mapping(doc, "Metadata"), "lambdatop")
        check_known_keys(ours, ("dependencies",), section="Metadata.lambdatop", path=str(self.path), key_prefix="Metadata.lambdatop.")
        self.dependencies = _dependencies(self.check, ours, "dependencies", "isolated")
        functions: dict[str, FunctionConfig] = {}
        warnings: list[str] = []
        for rid in function_ids:
            resource = resources[rid]
            check = _Checker(self.path, rid)
            # As SAM does: a property it does not define is an error, not a default (Timout: 5 runs 3 s otherwise).
            check.known_keys(check.mapping(resource, "Properties"), FUNCTION_PROPERTIES, f"{_SAM_FUNCTION} Properties")
            if "Condition" in resource and not resolver.condition(str(resource["Condition"])):
                continue
            props = resolver.resolve(check.mapping(resource, "Properties"))
            if not hasattr(props, "lines"):
                props = LineMap(props)
            props.line = props.line or resources.line_of(rid)
            merged = _merge_globals(globals_function, props)
            if merged.get("PackageType") == "Image":
                warnings.append(f"{self.path}: function {rid!r}: container-image functions are skipped")
                continue
            if "InlineCode" in merged and "CodeUri" not in merged:
                warnings.append(f"{self.path}: function {rid!r}: InlineCode is not supported; skipped")
                continue
            functions[rid] = self._function(check, rid, merged, resources.line_of(rid), physical[rid])
        if not functions:
            raise self.check.error(f"no {_SAM_FUNCTION} resources with local code", resources)
        config = FleetConfig(
            path=self.path, kind="sam", functions=functions, region=self.region, account_id=self.account_id,
            warnings=tuple(warnings), template_path=self.path, template=doc,
        )
        check_reserved(config)
        return config

    def _function(self, check: _Checker, rid: str, props: LineMap, line: int | None, physical: str) -> FunctionConfig:
        environment = check.mapping(props, "Environment")
        arch = props.get("Architectures") or ["x86_64"]
        return FunctionConfig(
            name=rid,
            handler=check.handler(props, "Handler"),
            code_dir=check.code_dir(props, "CodeUri", self.path.parent),
            runtime=check.runtime(props, "Runtime", "python3.11"),
            memory_size=check.integer(props, "MemorySize", DEFAULT_MEMORY_MB, MEMORY_RANGE) or DEFAULT_MEMORY_MB,
            timeout=check.integer(props, "Timeout", DEFAULT_TIMEOUT_S, TIMEOUT_RANGE) or DEFAULT_TIMEOUT_S,
            environment=check.environment(environment, "Variables"),
            reserved_concurrency=check.integer(props, "ReservedConcurrentExecutions", None, (0, 1_000_000)),
            tracing=_tracing(check, props, "Tracing"),
            architecture=str(arch[0]) if isinstance(arch, list) and arch else "x86_64",
            function_name=physical if physical != rid else None,
            description=check.string(props, "Description", "") or "",
            events=check.mapping(props, "Events"),
            event_invoke_config=check.mapping(props, "EventInvokeConfig"),
            dead_letter_queue=check.mapping(props, "DeadLetterQueue"),
            layers=tuple(str(x) for x in props.get("Layers") or ()),
            source=f"{self.path}:{line}",
            dependencies=self.dependencies,
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
