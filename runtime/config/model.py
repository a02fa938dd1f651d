"""The configuration's records: one function as lambdatop runs it, the fleet, and Lambda's defaults and ranges.

Both readers (`sam_template`, `lambdatop_file`) produce these; every other
part of the runtime reads them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdatop.runtime.config.deployment import DeploymentPreference
from lambdatop.runtime.config.logging_config import LoggingConfig

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
# `cpu:` all of the machine's CPUs (lambdatop's default), or a share in proportion to memory, as on Lambda.
CPU_MODES = ("unlimited", "proportional")
TIMEOUT_RANGE = (1, 900)


@dataclass(frozen=True)
class CannotRun:
    """Why lambdatop cannot run a function, and the Lambda error code invoking it answers with."""

    reason: str
    code: str = "InvalidRuntimeException"  # Invoke's 502 for a runtime the service cannot run


@dataclass(frozen=True)
class LayerContent:
    """A local layer's folder: what Lambda extracts to /opt, or (`under_python`, a SAM-built Python layer)
    what `sam build` puts under /opt/python."""

    folder: Path
    under_python: bool = False


@dataclass(frozen=True)
class TemplateInputs:
    """What the command line adds to a template: SAM CLI's `--parameter-overrides` and `--env-vars`.

    Kept on the `FleetConfig` so a reload reads the template with the same values.
    """

    parameters: Mapping[str, str] = field(default_factory=dict)
    env_vars: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # {"Fn" or "Parameters": {VAR: value}}
    env_vars_file: str | None = None


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
    layers: tuple[str, ...] = ()  # as written: layer ARNs (a template's own layers get local ones) or folders
    # The local layers' content, in order: each is what Lambda would extract to /opt (see execution/layers.py).
    layer_dirs: tuple[LayerContent, ...] = ()
    logging_config: LoggingConfig = LoggingConfig()  # LoggingConfig: the log format, levels and group
    source: str = ""  # "file:line" where the function is defined
    # A Python function's runtime: lambdatop's built-in worker ("builtin", fast), or the official runtime
    # interface client through the Runtime API ("ric": `python -m awslambdaric`, the reference behaviour).
    python_runtime: str = "builtin"
    dependencies: str = "isolated"  # one of DEPENDENCIES
    cpu: str = "unlimited"  # one of CPU_MODES
    # SAM's AutoPublishAlias (lambdatop.yaml `alias:`): each code or configuration change publishes a numbered
    # version and points this alias at it (runtime/versions/).
    auto_publish_alias: str | None = None
    # SAM's `SnapStart: {ApplyOn: PublishedVersions}` (lambdatop.yaml `snap_start: true`): each published version
    # runs Init once, and its cold starts restore from that snapshot (runtime/execution/snapstart.py).
    snap_start: bool = False
    # SAM's DeploymentPreference: how each new version takes over the alias (None: at once).
    deployment_preference: DeploymentPreference | None = None
    # Set when lambdatop cannot run this function (another runtime, code in S3, a container image...):
    # the rest of the fleet runs, and invoking this one answers `cannot_run`'s error.
    cannot_run: CannotRun | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the function answers to."""
        if self.function_name and self.function_name != self.name:
            return (self.name, self.function_name)
        return (self.name,)

    @property
    def events_dir(self) -> Path:
        return self.code_dir / "events"

    @property
    def event_dirs(self) -> tuple[Path, ...]:
        """Where its saved test events are: the code folder's events/, then the project's, next to the
        template (or lambdatop.yaml), where SAM apps keep them (`sam local invoke -e events/event.json`)."""
        dirs = [self.events_dir]
        source = self.source.rsplit(":", 1)[0]
        if source and (project := Path(source).parent / "events") != dirs[0]:
            dirs.append(project)
        return tuple(dirs)

    def fingerprint(self) -> str:
        """A hash of the settings that shape an environment; a change means new environments."""
        parts = [self.handler, str(self.code_dir), self.runtime, str(self.memory_size), str(self.timeout),
                 repr(sorted(self.environment.items())), self.tracing, repr(self.layer_dirs),
                 self.python_runtime, repr(self.logging_config), self.dependencies, self.cpu, str(self.snap_start)]
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
    inputs: TemplateInputs = field(default_factory=TemplateInputs)
    # The template's parameter values (overrides, else defaults), for the readers of the rest of the template.
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent

    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn


@dataclass(frozen=True)
class ResourceValues:
    """What `!Ref`/`!GetAtt` of a template's non-function resources resolve to, once they exist locally.

    `names`: logical id -> Ref value (queue URL, table name, topic ARN...);
    `attributes`: (logical id, attribute) -> GetAtt value. The AWS services
    (runtime/aws/) fill it in; without it they resolve to placeholders.
    """

    names: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[tuple[str, str], str] = field(default_factory=dict)

