"""What several commands share: loading the config with a readable error, reading an event."""

from __future__ import annotations

import sys
from pathlib import Path

from lambdatop.runtime.config import FleetConfig, load_config
from lambdatop.runtime.errors import ConfigError


class UsageError(Exception):
    """Bad input on the command line: printed as one line, exit code 2."""


def load_or_exit(path: str | None) -> FleetConfig:
    try:
        config = load_config(path)
    except ConfigError as exc:
        raise UsageError(f"config error: {exc}") from exc
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return config


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


def default_event_path(events_dir: Path) -> Path | None:
    """A function's default event: events/basic.json if present, else the first events/*.json."""
    if not events_dir.is_dir():
        return None
    preferred = events_dir / "basic.json"
    if preferred.is_file():
        return preferred
    candidates = sorted(events_dir.glob("*.json"))
    return candidates[0] if candidates else None
