"""Interpreters that imported the zygote before, remembered across runs.

Probing a candidate Python starts it (40-170 ms, on every fleet start of a project whose functions
name another Python than lambdatop's). What a probe found stays true while neither the candidate's
file nor the worker's code changes, so it is kept in the user's cache folder
(`$XDG_CACHE_HOME/lambdatop/interpreters.json`, else `~/.cache/...`) under a key of both; any change
to either, or a cache that cannot be read or written, means probing again, never a wrong answer.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import msgpack

from lambdatop.runtime import worker

CACHE_NAME = "interpreters.json"
LIMIT = 64  # entries kept: a machine has a handful of Pythons; stale keys (an upgraded one) age out


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lambdatop" / CACHE_NAME


def key_of(executable: str) -> str | None:
    """What a probe of `executable` depends on: its real file's identity and the worker's code; None if it is gone."""
    try:
        real = os.path.realpath(executable)
        stat = os.stat(real)
    except OSError:
        return None
    return f"{executable}|{real}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}|{_worker_fingerprint()}"


def recall(key: str) -> tuple[str, str] | None:
    """(real executable, version) a probe under `key` found, if one did."""
    entry = _read().get(key)
    if isinstance(entry, list) and len(entry) == 2 and all(isinstance(part, str) for part in entry):
        return entry[0], entry[1]
    return None


def remember(key: str, executable: str, version: str) -> None:
    entries = _read()
    entries.pop(key, None)
    entries[key] = [executable, version]
    kept = dict(list(entries.items())[-LIMIT:])
    path = cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed over, so a fleet starting at the same moment reads the old file or the new.
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".interpreters-", delete=False) as out:
            json.dump(kept, out)
        os.replace(out.name, path)
    except OSError:
        pass  # a read-only home: the next start probes again


def _read() -> dict[str, object]:
    try:
        entries = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _worker_fingerprint() -> str:
    """The worker package's newest file change and msgpack's version: what the probe imported."""
    folder = Path(worker.__file__).parent
    newest = max((entry.stat().st_mtime_ns for entry in os.scandir(folder) if entry.name.endswith(".py")), default=0)
    return f"{folder}:{newest}:{'.'.join(map(str, msgpack.version))}"
