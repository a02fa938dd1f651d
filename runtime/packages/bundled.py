"""The boto3 that Lambda's Python runtime bundles (and SnapStart's hooks module), as a folder holding only that.

Lambda puts boto3, botocore and their dependencies on every Python function's
path (/var/runtime). lambdatop has them installed (it uses boto3 itself); a
folder of links to those packages alone gives functions the same, without the
rest of lambdatop's environment (textual, aiohttp, moto...). The packages are
pure Python, so any Python version imports them.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

# boto3 and what it imports, as the runtime bundles them (top-level import names).
BUNDLED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "snapshot_restore_py")
# Their distributions' metadata too: code asks `importlib.metadata.version("boto3")`.
DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six", "snapshot-restore-py")


def bundled_runtime_packages(base: Path) -> Path:
    """A folder under `base` with links to the bundled packages lambdatop has; built once."""
    folder = base / "runtime-packages"
    folder.mkdir(parents=True, exist_ok=True)
    sites: set[Path] = set()
    for name in BUNDLED:
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            source = Path(next(iter(spec.submodule_search_locations)))
            link = folder / name
        elif spec.origin:
            source = Path(spec.origin)
            link = folder / source.name  # a single-file module (six.py)
        else:
            continue
        _link(link, source)
        sites.add(source.parent)
    # The .dist-info folders beside them, found by name: importlib.metadata would cost ~25 ms of imports
    # on the loop of every fleet start that has an isolated or SnapStart function.
    wanted = {_dist_info_name(distribution) for distribution in DISTRIBUTIONS}
    for site in sites:
        for entry in os.scandir(site):
            if entry.name.endswith(".dist-info") and _dist_info_name(entry.name.split("-", 1)[0]) in wanted:
                _link(folder / entry.name, Path(entry.path))
    return folder


def _dist_info_name(name: str) -> str:
    """A distribution's name as its .dist-info folder spells it, compared loosely (PEP 503's normalisation)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _link(link: Path, source: Path) -> None:
    if not link.is_symlink():
        try:
            link.symlink_to(source, target_is_directory=source.is_dir())
        except FileExistsError:
            pass  # another fleet of the same work folder made it first
