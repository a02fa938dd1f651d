"""What a function needs installed: its code folder's requirements.txt, for the Python that runs it."""

from __future__ import annotations

import hashlib
import os
import platform
from dataclasses import dataclass
from pathlib import Path

REQUIREMENTS_FILE = "requirements.txt"
PACKAGES_DIR = Path(".lambdatop") / "packages"
# Installs go beside the config unless this names a folder to share between projects (a CI cache, copies of one app).
PACKAGES_DIR_VARIABLE = "LAMBDATOP_PACKAGES_DIR"


@dataclass(frozen=True)
class PackageSet:
    """One requirements.txt as installed for one Python: the folder it goes to is named by both."""

    requirements: Path
    python_version: str  # "3.12": packages with C extensions are built for one Python
    target: Path  # .lambdatop/packages/<digest>

    @property
    def digest(self) -> str:
        return self.target.name


def requirements_of(code_dir: Path) -> Path | None:
    path = code_dir / REQUIREMENTS_FILE
    return path if path.is_file() else None


def packages_folder(project_root: Path) -> Path:
    """Where a project's installs go: `.lambdatop/packages/` beside its config, or $LAMBDATOP_PACKAGES_DIR."""
    override = os.environ.get(PACKAGES_DIR_VARIABLE)
    return Path(override).expanduser().resolve() if override else project_root / PACKAGES_DIR


def package_set(requirements: Path, python_version: str, folder: Path) -> PackageSet:
    """Where `requirements` installs for `python_version`, in the project's packages `folder`.

    Keyed by the file's bytes, the Python and the machine, so an edit (or a
    Runtime change) installs anew and two functions with the same file share one
    folder, while an unchanged file is never installed twice.
    """
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    digest.update(f"\0python{python_version}\0{platform.machine()}".encode())
    return PackageSet(requirements, python_version, folder / digest.hexdigest()[:16])
