"""A function's layers laid out as Lambda extracts them to /opt: one folder per function and code version.

Lambda unpacks a function's layers into /opt in order, a later layer's file
replacing an earlier one's, and the Python runtime puts
`/opt/python/lib/python3.x/site-packages` and `/opt/python` on `sys.path`
after the code folder. Here /opt is `<work dir>/opt/<function>/<code version>`
(the function reads it from `LAMBDATOP_OPT`), built from symbolic links to the
layer folders (whole folders where layers do not overlap, so a big layer costs
a few links), and its `bin/` is on PATH as /opt/bin is on Lambda's.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lambdatop.runtime.config import LayerContent

OPT_VARIABLE = "LAMBDATOP_OPT"


@dataclass(frozen=True)
class LayerRoot:
    """The built /opt stand-in and what the worker adds to sys.path for it."""

    folder: Path
    sys_path: tuple[str, ...]


def build_layer_root(layers: Sequence[LayerContent], folder: Path, runtime: str) -> LayerRoot:
    """Merge `layers` into `folder` (made afresh), in order; `runtime` names the site-packages folder (python3.11)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for layer in layers:
        target = folder / "python" if layer.under_python else folder
        _real_folder(target)
        _merge(layer.folder, target)
    python = folder / "python"
    return LayerRoot(folder, (str(python / "lib" / runtime / "site-packages"), str(python)))


def _real_folder(path: Path) -> None:
    """Make `path` a folder of our own: an earlier layer's folder linked whole is split into links to its
    entries, so merging into it never writes into that layer's own folder."""
    if path.is_symlink():
        earlier = path.resolve()
        path.unlink()
        path.mkdir()
        _merge(earlier, path)
    elif not path.exists():
        path.mkdir()
    elif not path.is_dir():  # an earlier layer's file where a later layer has a folder: the later wins
        path.unlink()
        path.mkdir()


def _merge(source: Path, target: Path) -> None:
    """Link `source`'s entries into `target` (a folder of our own); where both have a folder, merge inside it;
    files: the later wins."""
    for entry in os.scandir(source):
        destination = target / entry.name
        if not os.path.lexists(destination):
            destination.symlink_to(entry.path, target_is_directory=entry.is_dir())
            continue
        if entry.is_dir() and destination.is_dir():
            _real_folder(destination)
            _merge(Path(entry.path), destination)
            continue
        if destination.is_dir() and not destination.is_symlink():
            shutil.rmtree(destination)
        else:
            destination.unlink()
        destination.symlink_to(entry.path, target_is_directory=entry.is_dir())
