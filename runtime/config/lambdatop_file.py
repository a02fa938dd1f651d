"""`lambdatop.yaml`: lambdatop's own format, optionally on top of a SAM template (`template:`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from lambdatop.runtime.config.checker import Checker, check_reserved, tracing
from lambdatop.runtime.config.model import (
    DEFAULT_ACCOUNT_CONCURRENCY, DEFAULT_ACCOUNT_ID, DEFAULT_IDLE_TIMEOUT_S, DEFAULT_MEMORY_MB, DEFAULT_REGION,
    DEFAULT_TIMEOUT_S, MEMORY_RANGE, TIMEOUT_RANGE, FleetConfig, FunctionConfig, LayerContent, ResourceValues,
    TemplateInputs,
)
from lambdatop.runtime.config.deployment import time_scale
from lambdatop.runtime.config.layers import MAX_LAYERS, TOO_MANY
from lambdatop.runtime.config.logging_config import YAML_KEYS
from lambdatop.runtime.config.unsupported import runtime_problem
from lambdatop.runtime.config.sam_template import SamTemplate
from lambdatop.runtime.config.yamlfile import LineMap, load_yaml

_TOP_KEYS = {"account", "defaults", "functions", "template", "store", "async", "alarms", "http", "reload", "api", "aws",
             "deployments"}
_ACCOUNT_KEYS = {"concurrency_limit", "region", "account_id"}
_FUNCTION_KEYS = {
    "handler", "code", "runtime", "memory_size", "timeout", "environment", "reserved_concurrency",
    "idle_timeout", "freeze", "tracing", "architecture", "description", "events", "async", "dead_letter_queue",
    "layers", "python_runtime", "logging", "dependencies", "cpu", "alias", "snap_start",
}
_DEFAULT_KEYS = _FUNCTION_KEYS - {"handler", "code", "description", "events"}


class LambdatopFile:
    def __init__(self, path: Path, document: LineMap, *, resources: ResourceValues | None = None,
                 inputs: TemplateInputs | None = None) -> None:
        self.path = path
        self.resources = resources
        self.inputs = inputs or TemplateInputs()
        self.warnings: list[str] = []  # about this file's own functions
        self.document = document
        self.check = Checker(path)

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
        sections = {key: doc[key] for key in ("store", "async", "alarms", "http", "reload", "api", "aws", "deployments")
                    if key in doc}
        time_scale(sections, str(self.path))  # a bad `deployments:` section fails at load, like the others

        functions: dict[str, FunctionConfig] = {}
        warnings: list[str] = []
        sam: FleetConfig | None = None
        if "template" in doc:
            template_path = (self.path.parent / str(doc["template"])).resolve()
            if not template_path.is_file():
                raise self.check.error(f"template {doc['template']!r} does not exist", doc, "template")
            sam = SamTemplate(template_path, load_yaml(template_path), region=region, account_id=account_id,
                              resources=self.resources, inputs=self.inputs).load()
            functions.update(sam.functions)
            warnings.extend(sam.warnings)

        # Defaults apply to functions that came from a template too (idle timeout, freeze), under
        # each function's own settings below.
        for name, function in list(functions.items()):
            functions[name] = self._override(Checker(self.path, name), function, defaults, layers=False)
        entries = self.check.mapping(doc, "functions")
        for name, entry in entries.items():
            checker = Checker(self.path, str(name))
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

        if not functions:
            raise self.check.error("no functions defined (add a 'functions:' mapping or a 'template:')", doc)
        config = FleetConfig(
            path=self.path, kind="lambdatop", functions=functions, account_concurrency=limit or DEFAULT_ACCOUNT_CONCURRENCY,
            region=region, account_id=account_id, sections=sections, warnings=tuple(warnings + self.warnings),
            template_path=sam.template_path if sam else None, template=sam.template if sam else None,
            inputs=self.inputs, parameters=sam.parameters if sam else {},
        )
        check_reserved(config)
        return config

    def _setting(self, entry: LineMap, defaults: LineMap, key: str) -> tuple[LineMap, str]:
        """Where a setting comes from: the function's own entry, else the defaults."""
        return (entry, key) if key in entry else (defaults, key)

    def _function(self, check: Checker, name: str, entry: LineMap, defaults: LineMap, line: int | None) -> FunctionConfig:
        def pick(key: str) -> tuple[LineMap, str]:
            return self._setting(entry, defaults, key)

        async_config = check.mapping(*pick("async"))
        runtime = check.runtime(*pick("runtime"), "python3.11")
        layers, layer_dirs = self._layers(check, *pick("layers"))
        handler = check.handler_of(entry, "handler", runtime)
        if (cannot_run := runtime_problem(runtime)) is not None:
            self.warnings.append(f"{self.path}: function {name!r} cannot run: {cannot_run.reason}")
        elif "." not in handler and not runtime.startswith("provided"):
            self.warnings.append(f"{self.path}: function {name!r}: handler {handler!r} has no '.': every invocation "
                                 "fails at Init with Runtime.MalformedHandlerName, as on Lambda")
        return FunctionConfig(
            name=name,
            handler=handler,
            code_dir=check.code_dir(entry, "code", self.path.parent, default=name),
            runtime=runtime,
            python_runtime=check.python_runtime(*pick("python_runtime")),
            cannot_run=cannot_run,
            memory_size=check.integer(*pick("memory_size"), DEFAULT_MEMORY_MB, MEMORY_RANGE) or DEFAULT_MEMORY_MB,
            timeout=check.integer(*pick("timeout"), DEFAULT_TIMEOUT_S, TIMEOUT_RANGE) or DEFAULT_TIMEOUT_S,
            environment={**check.environment(defaults, "environment"), **check.environment(entry, "environment")},
            reserved_concurrency=check.integer(entry, "reserved_concurrency", None, (0, 1_000_000)),
            idle_timeout=check.number(*pick("idle_timeout"), DEFAULT_IDLE_TIMEOUT_S),
            freeze=check.boolean(*pick("freeze"), True),
            tracing=tracing(check, *pick("tracing")),
            architecture=check.string(*pick("architecture"), "x86_64") or "x86_64",
            description=check.string(entry, "description", "") or "",
            events=check.mapping(entry, "events"),
            event_invoke_config=async_config,
            dead_letter_queue=check.mapping(*pick("dead_letter_queue")),
            layers=layers,
            layer_dirs=layer_dirs,
            logging_config=check.logging(*pick("logging"), YAML_KEYS),
            source=f"{self.path}:{line}",
            dependencies=check.dependencies(*pick("dependencies"), "isolated"),
            cpu=check.cpu(*pick("cpu"), "unlimited"),
            auto_publish_alias=check.alias(*pick("alias")),
            snap_start=check.snap_start(*pick("snap_start"), runtime),
        )

    def _override(self, check: Checker, function: FunctionConfig, entry: LineMap, *, layers: bool = True) -> FunctionConfig:
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
            changes["dependencies"] = check.dependencies(entry, "dependencies", function.dependencies)
        if "cpu" in entry:
            changes["cpu"] = check.cpu(entry, "cpu", function.cpu)
        if "python_runtime" in entry:
            changes["python_runtime"] = check.python_runtime(entry, "python_runtime")
        if "alias" in entry:
            changes["auto_publish_alias"] = check.alias(entry, "alias")
        if "snap_start" in entry:
            changes["snap_start"] = check.snap_start(entry, "snap_start", function.runtime)
        if "logging" in entry:
            changes["logging_config"] = check.logging(entry, "logging", YAML_KEYS)
        if layers and "layers" in entry:  # a function's own `layers:` replace its template Layers, as SAM's would
            changes["layers"], changes["layer_dirs"] = self._layers(check, entry, "layers")
        return replace(function, **changes) if changes else function

    def _layers(self, check: Checker, mapping: LineMap, key: str) -> tuple[tuple[str, ...], tuple[LayerContent, ...]]:
        """`layers:` folders, relative to this file, in order, at most 5 (Lambda's limit).

        A folder laid out as Lambda extracts a layer to /opt (a `python/`, `bin/`, `lib/` or `extensions/`
        inside, or a `bootstrap`) is one; any other folder is what would be under /opt/python (so its
        modules import, as `sam build` lays out a Python layer).
        """
        written = mapping.get(key) or []
        if not isinstance(written, list):
            raise check.error(f"must be a list of folders, got {type(written).__name__}", mapping, key)
        if len(written) > MAX_LAYERS:
            raise check.error(TOO_MANY, mapping, key)
        contents = []
        for item in written:
            folder = (self.path.parent / str(item)).resolve()
            if not folder.is_dir():
                raise check.error(f"layer folder {str(item)!r} does not exist (relative to {self.path.name})", mapping, key)
            contents.append(LayerContent(folder, under_python=not _laid_out_as_opt(folder)))
        return tuple(str(item) for item in written), tuple(contents)


_OPT_FOLDERS = ("python", "bin", "lib", "extensions")


def _laid_out_as_opt(folder: Path) -> bool:
    return any((folder / name).is_dir() for name in _OPT_FOLDERS) or (folder / "bootstrap").is_file()
