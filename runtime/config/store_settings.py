"""The `store:` section of lambdatop.yaml: whether there is a store, where it lives, what it keeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdatop.runtime.config.loading import check_known_keys
from lambdatop.runtime.errors import SYNC_PAYLOAD_LIMIT, ConfigError
from lambdatop.runtime.config.yamlfile import line_of

if TYPE_CHECKING:
    from lambdatop.runtime.config.loading import FleetConfig

STORE_DIR = ".lambdatop"
STORE_FILE = "lambdatop.db"
DEFAULT_RETENTION = 100_000  # invocations kept; older ones are pruned
DEFAULT_MAX_PAYLOAD = SYNC_PAYLOAD_LIMIT  # 6 MB: a stored event or response is cut here
DEFAULT_FLUSH_INTERVAL_S = 0.2
DEFAULT_MAX_BATCH = 1000


@dataclass(frozen=True)
class StoreSettings:
    """The `store:` section of lambdatop.yaml."""

    enabled: bool = True
    path: Path | None = None
    retention: int = DEFAULT_RETENTION
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD
    flush_interval: float = DEFAULT_FLUSH_INTERVAL_S
    max_batch: int = DEFAULT_MAX_BATCH

    @classmethod
    def from_config(cls, config: FleetConfig) -> StoreSettings:
        section = config.sections.get("store") or {}
        where = str(config.path)
        if section is True or section is False:
            return cls(enabled=bool(section), path=config.root / STORE_DIR / STORE_FILE)
        if not isinstance(section, Mapping):
            raise ConfigError("must be a mapping (enabled, path, retention, max_payload_bytes, flush_interval_ms)", path=where, key="store")
        known = {"enabled", "path", "retention", "max_payload_bytes", "flush_interval_ms", "max_batch"}
        check_known_keys(section, known, section="store", path=where, key_prefix="store.")

        def positive_int(key: str, default: int) -> int:
            value = section.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"must be a whole number above 0, got {value!r}", path=where, key=f"store.{key}", line=line_of(section, key))
            return value

        enabled = section.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"must be true or false, got {enabled!r}", path=where, key="store.enabled", line=line_of(section, "enabled"))
        raw_path = section.get("path")
        path = (config.root / str(raw_path)) if raw_path else config.root / STORE_DIR / STORE_FILE
        flush_ms = section.get("flush_interval_ms", DEFAULT_FLUSH_INTERVAL_S * 1000)
        if isinstance(flush_ms, bool) or not isinstance(flush_ms, (int, float)) or not 0 <= flush_ms <= 10_000:
            raise ConfigError(f"must be a number of milliseconds from 0 to 10000, got {flush_ms!r}", path=where,
                              key="store.flush_interval_ms", line=line_of(section, "flush_interval_ms"))
        return cls(
            enabled=enabled, path=path.resolve(), retention=positive_int("retention", DEFAULT_RETENTION),
            max_payload_bytes=positive_int("max_payload_bytes", DEFAULT_MAX_PAYLOAD),
            flush_interval=float(flush_ms) / 1000, max_batch=positive_int("max_batch", DEFAULT_MAX_BATCH),
        )


def store_path(config: FleetConfig) -> Path:
    """Where the store of this project lives."""
    settings = StoreSettings.from_config(config)
    assert settings.path is not None
    return settings.path
