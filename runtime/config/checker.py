"""Reading typed values out of a line-aware mapping, with errors that name the file, line, function and key.

Shared by both readers; `check_known_keys` also by every settings section.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.config.logging_config import LoggingConfig, read_logging_config
from lambdatop.runtime.config.model import CPU_MODES, DEPENDENCIES, UNRESERVED_MINIMUM, FleetConfig
from lambdatop.runtime.config.yamlfile import LineMap, line_of

_ALIAS_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")  # botocore's Alias shape


class Checker:
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

    def alias(self, mapping: LineMap, key: str) -> str | None:
        """An alias name as Lambda accepts one (letters, digits, - and _, not all digits, at most 128), or None."""
        name = self.string(mapping, key, None)
        if name is None:
            return None
        if not _ALIAS_NAME.fullmatch(name) or name.isdigit():
            raise self.error(f"{name!r} is not an alias name: letters, digits, '-' and '_' (not only digits), "
                             "at most 128", mapping, key)
        return name

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
        """The handler as written: one without a dot is not a config error (Lambda accepts it and fails at
        Init with Runtime.MalformedHandlerName; the worker answers the same)."""
        handler = self.string(mapping, key, required=True)
        assert handler is not None
        return handler

    def runtime(self, mapping: LineMap, key: str, default: str) -> str:
        """The runtime as written; whether lambdatop can run it is `unsupported.runtime_problem`'s call."""
        return self.string(mapping, key, default) or default

    def handler_of(self, mapping: LineMap, key: str, runtime: str) -> str:
        """A custom runtime's Handler is its own business (passed as _HANDLER), and optional."""
        if runtime.startswith("provided"):
            return self.string(mapping, key, "bootstrap") or "bootstrap"
        return self.handler(mapping, key)

    def dependencies(self, mapping: LineMap, key: str, default: str) -> str:
        value = self.string(mapping, key, default) or default
        if value not in DEPENDENCIES:
            raise self.error(f"must be {' or '.join(DEPENDENCIES)}, got {value!r}", mapping, key)
        return value

    def snap_start(self, mapping: LineMap, key: str, runtime: str) -> bool:
        """SAM's `SnapStart: {ApplyOn: PublishedVersions | None}`, or lambdatop.yaml's `snap_start: true`.

        Lambda refuses SnapStart on a Python older than 3.12 (and on Node.js and custom runtimes), so a
        template that asks for it there would not deploy: said here, at the key's line.
        """
        if key not in mapping or mapping[key] is None:
            return False
        value = mapping[key]
        if isinstance(value, bool):
            wanted = value
        else:
            section = self.mapping(mapping, key)
            check_known_keys(section, ("ApplyOn",), section=key, path=str(self.path), function=self.function,
                             key_prefix=f"{key}.")
            apply_on = self.string(section, "ApplyOn", "None")
            if apply_on not in ("PublishedVersions", "None"):
                raise self.error(f"ApplyOn must be PublishedVersions or None, got {apply_on!r}", section, "ApplyOn")
            wanted = apply_on == "PublishedVersions"
        if wanted and not _snap_start_runtime(runtime):
            raise self.error(f"Lambda supports SnapStart for python3.12 and later (and Java 11+, .NET 8+), not {runtime}: "
                             "it would refuse to deploy this function", mapping, key)
        return wanted

    def cpu(self, mapping: LineMap, key: str, default: str) -> str:
        value = self.string(mapping, key, default) or default
        if value not in CPU_MODES:
            raise self.error(f"must be {' or '.join(CPU_MODES)}, got {value!r}", mapping, key)
        return value

    def python_runtime(self, mapping: LineMap, key: str) -> str:
        value = self.string(mapping, key, "builtin") or "builtin"
        if value not in ("builtin", "ric"):
            raise self.error(f"must be builtin or ric, got {value!r}", mapping, key)
        return value

    def logging(self, mapping: LineMap, key: str, keys: Mapping[str, str]) -> LoggingConfig:
        """LoggingConfig (a template's, `keys` = SAM_KEYS) or `logging:` (lambdatop.yaml's, YAML_KEYS)."""
        try:
            return read_logging_config(mapping.get(key), keys)
        except ValueError as exc:
            raise self.error(str(exc), mapping, key) from None

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



def tracing(check: Checker, mapping: LineMap, key: str) -> str:
    value = check.string(mapping, key, "PassThrough") or "PassThrough"
    if value not in ("Active", "PassThrough"):
        raise check.error(f"must be Active or PassThrough, got {value!r}", mapping, key)
    return value


def _snap_start_runtime(runtime: str) -> bool:
    if runtime.startswith("python3."):
        minor = runtime.removeprefix("python3.")
        return minor.isdigit() and int(minor) >= 12
    return runtime.startswith(("java", "dotnet")) and runtime not in ("java8", "java8.al2")
