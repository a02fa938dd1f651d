"""The boto3 that Lambda's Python runtime bundles (and SnapStart's hooks module), as a folder holding only that.

Lambda puts boto3, botocore and their dependencies on every Python function's
path (/var/runtime). lambdatop has them installed (it uses boto3 itself); a
folder of links to those packages alone gives functions the same, without the
rest of lambdatop's environment (textual, aiohttp, moto...). The packages are
pure Python, so any Python version imports them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

# boto3 and what it imports, as the runtime bundles them (top-level import names).
BUNDLED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "snapshot_restore_py")
# Their distributions' metadata too: code asks `importlib.metadata.version("boto3")`.
DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six", "snapshot-restore-py")


def bundled_runtime_packages(base: Path) -> Path:
    """A folder under `base` with links to the bundled packages lambdatop has; built once."""
    # Here, not at import (25 ms): most fleets have no isolated function to link these for.
    from importlib.metadata import PackageNotFoundError, distribution as installed

    folder = base / "runtime-packages"
    folder.mkdir(parents=True, exist_ok=True)
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
    for distribution in DISTRIBUTIONS:
        try:
            found = installed(distribution)
        except PackageNotFoundError:
            continue
        metadata = getattr(found, "_path", None)  # the .dist-info folder (PathDistribution)
        if isinstance(metadata, Path) and metadata.is_dir():
            _link(folder / metadata.name, metadata)
    return folder


def _link(link: Path, source: Path) -> None:
    if not link.is_symlink():
        try:
            link.symlink_to(source, target_is_directory=source.is_dir())
        except FileExistsError:
            pass  # another fleet of the same work folder made it first
