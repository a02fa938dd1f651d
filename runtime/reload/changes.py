"""What changed in a function's configuration between two loads, and what each change means.

A change to a field that shapes running environments recycles them (like a
code change); the rest apply at once. Changes are described for people and
for the screen without ever printing an environment variable's value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambdatop.runtime.config import CannotRun, FunctionConfig, LayerContent

# Settings of a function that shape its running environments: a change recycles them.
ENVIRONMENT_FIELDS = ("handler", "code_dir", "runtime", "memory_size", "timeout", "environment", "tracing",
                      "architecture", "function_name", "layers", "layer_dirs", "freeze", "cannot_run",
                      "python_runtime", "logging_config", "dependencies")
# Every other setting applies live without new environments; `events` too: the trigger service
# (runtime/triggers/) reconciles its pollers with the config every second.


def config_changes(old: FunctionConfig, new: FunctionConfig) -> dict[str, tuple[Any, Any]]:
    """Settings that differ (the definition's line number does not count)."""
    changes = {}
    for spec in dataclasses.fields(FunctionConfig):
        if spec.name == "source":
            continue
        before, after = getattr(old, spec.name), getattr(new, spec.name)
        if isinstance(before, Mapping):
            before, after = dict(before), dict(after)
        if before != after:
            changes[spec.name] = (before, after)
    return changes


def plain_changes(changes: Mapping[str, tuple[Any, Any]]) -> dict[str, Any]:
    """The changes as plain data for the screen: [before, after], but only the names of changed variables."""
    plain: dict[str, Any] = {}
    for key, (before, after) in changes.items():
        if key == "environment":
            plain[key] = {
                "added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
                "changed": sorted(k for k in set(before) & set(after) if before[k] != after[k]),
            }
        else:
            plain[key] = [_plain(before), _plain(after)]
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, LayerContent):
        return str(value.folder)
    if isinstance(value, CannotRun):
        return value.reason
    return value


def describe(changes: Mapping[str, tuple[Any, Any]]) -> str:
    parts = []
    for key, (before, after) in changes.items():
        if key in ("memory_size", "timeout", "reserved_concurrency", "idle_timeout", "handler", "runtime", "tracing", "freeze"):
            unit = {"memory_size": " MB", "timeout": " s", "idle_timeout": " s"}.get(key, "")
            parts.append(f"{key} {before}{unit} → {after}{unit}")
        else:
            parts.append(f"{key} changed")  # environment values may be secrets: never printed
    return ", ".join(parts)


def reload_message(name: str, previous: str, version: tuple[str, str] | None, changes: Mapping[str, tuple[Any, Any]],
                   recycled: bool) -> str:
    """The line a reload prints: `hello: v1 → v2 (5607381), config: timeout 3 → 5`; `version` is (label, short hash)."""
    if version is not None:
        message = f"{name}: {previous} → {version[0]} ({version[1]})"
        if changes:
            message += f", config: {describe(changes)}"
    else:
        message = f"{name}: config: {describe(changes) or 'account settings'}" + ("" if recycled else " (environments kept)")
    return message
