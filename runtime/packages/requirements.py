"""What a function needs installed: its code folder's requirements.txt, for the Python that runs it."""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass
from pathlib import Path

REQUIREMENTS_FILE = "requirements.txt"
PACKAGES_DIR = Path(".lambdatop") / "packages"


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


def package_set(requirements: Path, python_version: str, root: Path) -> PackageSet:
    """Where `requirements` installs for `python_version`, under the project's `root`.

    Keyed by the file's bytes, the Python and the machine, so an edit (or a
    Runtime change) installs anew and two functions with the same file share one
    folder, while an unchanged file is never installed twice.
    """
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    digest.update(f"\0python{python_version}\0{platform.machine()}".encode())
    return PackageSet(requirements, python_version, root / PACKAGES_DIR / digest.hexdigest()[:16])
