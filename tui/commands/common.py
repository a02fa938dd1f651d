"""What the commands share: exit codes, the arguments several of them take, and the errors they print alike.

`lambdatop.tui.cli` builds the parser from `arguments`; the commands import
only this module (never `cli`), so the dependency runs one way. The parser
uses this module too, so it loads the config readers only inside the
functions that read a config.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambdatop.runtime.config import FleetConfig, FunctionConfig, TemplateInputs
    from lambdatop.runtime.store.reader import StoreReader

EXIT_OK = 0
EXIT_FUNCTION_ERROR = 1
EXIT_USAGE = 2
EXIT_SERVICE_ERROR = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C'd tool
# 128 + SIGPIPE: what the shell reports for `cat`, `grep` or `git log` when the reader of their pipe
# (`| head`) goes away, so `set -o pipefail` scripts see from lambdatop what they see from any tool.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE

_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_ARN_FUNCTION = re.compile(r"(?:^|:)function:([^:]+)")


class UsageError(Exception):
    """Bad input on the command line: printed as one line, exit code 2."""


# -- arguments ------------------------------------------------------------------------------------


def aws_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """--aws-port and --no-aws, for the dashboard and `serve` (`prefix` keeps their dests apart)."""
    parser.add_argument("--aws-port", dest=f"{prefix}aws_port", metavar="PORT", type=int, default=None,
                        help="the AWS services sidecar's port (default: the config's aws.port, else 4566; 0 picks a free port)")
    parser.add_argument("--no-aws", dest=f"{prefix}no_aws", action="store_true",
                        help="run without the AWS services sidecar (no local resources, no event sources)")


def config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-c", metavar="PATH", default=None,
        help="lambdatop.yaml or SAM template.yaml (default: ./lambdatop.yaml, ./template.yaml, ./sample_functions/template.yaml)",
    )
    template_options(parser)


def template_options(parser: argparse.ArgumentParser) -> None:
    """SAM CLI's `--parameter-overrides` and `--env-vars`, wherever the config is loaded.

    Not defaulted here (SUPPRESS), so `lambdatop --env-vars f.json serve` keeps the top-level value.
    """
    parser.add_argument("--parameter-overrides", metavar="KEY=VALUE", action="append", default=argparse.SUPPRESS,
                        help="template parameter values, as SAM CLI takes them: 'Stage=dev Size=2' or "
                             "'ParameterKey=Stage,ParameterValue=dev' (repeatable)")
    parser.add_argument("--env-vars", metavar="FILE.json", default=argparse.SUPPRESS,
                        help='environment variable values, SAM CLI\'s format: {"MyFunction": {"VAR": "v"}, "Parameters": {"VAR": "v"}}')


def template_inputs(args: argparse.Namespace) -> TemplateInputs:
    """What `--parameter-overrides` and `--env-vars` add to the template (a UsageError for a malformed one)."""
    from lambdatop.runtime.config import TemplateInputs
    from lambdatop.runtime.config.env_vars import read_env_vars
    from lambdatop.runtime.config.parameters import parse_overrides
    from lambdatop.runtime.errors import ConfigError

    try:
        parameters = parse_overrides(getattr(args, "parameter_overrides", None) or ())
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    env_file = getattr(args, "env_vars", None)
    try:
        env_vars = read_env_vars(env_file) if env_file else {}
    except ConfigError as exc:
        raise UsageError(f"config error: {exc}") from None
    return TemplateInputs(parameters=parameters, env_vars=env_vars, env_vars_file=env_file)


def function_option(parser: argparse.ArgumentParser, help: str) -> None:
    """`--function FN` / `-f FN`: the same spelling in every command that narrows to one function."""
    parser.add_argument("--function", "-f", metavar="FN", help=help)


def run_option(parser: argparse.ArgumentParser, help: str) -> None:
    """`--run ID|last`, resolved against the store with `selected_run`."""
    parser.add_argument("--run", metavar="ID|last", help=f"{help} ('last' = the latest run that has invocations)")


def selected_run(reader: StoreReader, text: str | None) -> int | None:
    """The run id `--run` names: a number, or 'last' (the latest run with invocations); None when not given."""
    if text is None:
        return None
    if text == "last":
        latest = reader.latest_run()
        if latest is None:
            raise UsageError("--run last: no recorded run has invocations yet")
        return latest
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--run takes a run id (see `lambdatop record runs`) or 'last', got {text!r}") from None


def parse_age(text: str) -> float:
    """`--since AGE` in seconds: 30s, 10m, 2h, 1d."""
    match = _AGE.match(text.strip())
    if not match:
        raise UsageError(f"--since {text!r}: use a number and a unit, e.g. 30s, 10m, 2h, 1d")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def client_context(text: str | None) -> str | None:
    """`--client-context JSON`, checked as the endpoint checks X-Amz-Client-Context: a JSON object."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--client-context is not valid JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise UsageError(f"--client-context must be a JSON object, e.g. '{{\"custom\": {{\"k\": \"v\"}}}}', got {text!r}")
    return text


# -- the config and its functions -----------------------------------------------------------------


def load_or_exit(path: str | None, inputs: TemplateInputs | None = None) -> FleetConfig:
    from lambdatop.runtime.config import load_config
    from lambdatop.runtime.errors import ConfigError

    try:
        config = load_config(path, inputs=inputs)
    except ConfigError as exc:
        raise UsageError(f"config error: {exc}") from exc
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return config


def find_function(config: FleetConfig, name: str) -> FunctionConfig | None:
    """The function a name (logical id or FunctionName) refers to, or None."""
    return config.functions.get(name) or next((f for f in config.functions.values() if name in f.names), None)


def require_function(config: FleetConfig, name: str) -> FunctionConfig:
    """As `find_function`, but an unknown name is a UsageError that says what was probably meant."""
    function = find_function(config, name)
    if function is None:
        raise UsageError(f"no function named {name!r} in {config.path}; {unknown_function_hint(config, name)}")
    return function


def unknown_function_hint(config: FleetConfig, name: str) -> str:
    """'did you mean 'hello'?' when a name is close to a known one, else the names there are."""
    match = _ARN_FUNCTION.search(name)
    bare = match.group(1) if match else name.split(":", 1)[0]
    known = sorted({n for f in config.functions.values() for n in f.names})
    if bare in known:
        return f"{bare!r} exists, but only as $LATEST: there are no versions or aliases locally"
    close = difflib.get_close_matches(bare, known, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(n) for n in close) + "?"
    if not known:
        return "the config defines no functions"
    return "the functions are: " + ", ".join(known)


# -- events ----------------------------------------------------------------------------------------


def read_event(source: str | None, default: Path | None = None) -> bytes:
    """The event bytes from a file, from stdin ('-'), or the function's default event."""
    if source == "-":
        return sys.stdin.buffer.read()
    if source is not None:
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read event file {source!r}: {exc.strerror}") from exc
    if default is not None and default.is_file():
        return default.read_bytes()
    return b"{}"


def saved_events(event_dirs: Sequence[Path]) -> list[Path]:
    """Every events/*.json of a function (`FunctionConfig.event_dirs`): its own folder's first, then the project's."""
    return [path for folder in event_dirs if folder.is_dir() for path in sorted(folder.glob("*.json"))]


def default_event_path(event_dirs: Sequence[Path] | Path, function: str = "") -> Path | None:
    """A function's default event: its own events/basic.json, else its first events/*.json; else, in the
    project's events/ (shared by the template's functions), `<function>.json`, basic.json, event.json (what
    `sam init` writes), else the first."""
    folders = [event_dirs] if isinstance(event_dirs, Path) else list(event_dirs)
    for index, folder in enumerate(folders):
        if not folder.is_dir():
            continue
        names = ["basic.json"] if index == 0 else [*([f"{function}.json"] if function else []), "basic.json", "event.json"]
        for name in names:
            if (folder / name).is_file():
                return folder / name
        candidates = sorted(folder.glob("*.json"))
        if candidates:
            return candidates[0]
    return None
