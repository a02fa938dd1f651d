"""Code versions: a content hash of a function's code folder (and layers), numbered v1, v2, ...

Lambda gives every deployment a CodeSha256; lambdatop does the same for what
is on disk, so a record can say which code served it and a save that changes
nothing (an editor rewriting the same bytes, a `touch`) changes nothing. Only
code counts: editor droppings, bytecode caches, VCS folders, lambdatop's own
state and the function's `events/` library are not part of a version.

Hashing reads files, so callers run `CodeHasher.digest` in a thread, never on
the event loop. Per-file digests are cached by (size, mtime_ns) so a reload
of a folder with vendored dependencies re-reads only what changed.

Only regular files count (a FIFO would block the read forever, `/dev/zero`
never ends), and a folder is bounded (`FolderLimits`): past the count or size
Lambda would ever deploy (250 MB unzipped), it is too big to be code
(`CodeUri: /`) and `CodeFolderTooLarge` says so instead of walking the disk.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat as stat_mode
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from lambdatop.runtime.config import FunctionConfig

if TYPE_CHECKING:
    from lambdatop.runtime.reload.broken import BrokenCode

# Folders that never hold a function's code: caches, VCS, IDE state, lambdatop's own store.
NOISE_DIRS = frozenset({"__pycache__", "node_modules"})
# Editor temp files, swap files, backups, bytecode.
NOISE_SUFFIXES = (".pyc", ".pyo", ".swp", ".swo", ".swx", ".swpx", ".tmp", ".bak", ".orig", ".rej", ".kate-swp")
NOISE_NAMES = frozenset({"4913", ".DS_Store", "Thumbs.db"})  # 4913: vim's "can I write here?" probe
# A file modified this recently may be modified again within the same mtime tick: never trust the cache for it.
RACY_WINDOW_S = 2.0
SHORT_HASH = 7


@dataclass(frozen=True, slots=True)
class FolderLimits:
    """The most a code folder may hold and still be code (Lambda: 250 MB unzipped, layers included)."""

    max_files: int = 20_000
    max_bytes: int = 250 * 1024 * 1024


FOLDER_LIMITS = FolderLimits()


class CodeFolderTooLarge(Exception):
    """A code folder past `FolderLimits`: not hashed, not watched."""

    def __init__(self, folder: Path, what: str) -> None:
        super().__init__(f"{folder} holds {what}: too big to be a function's code (Lambda deploys at most 250 MB); "
                         "not watched for changes: point CodeUri at the function's own folder")
        self.folder = folder


def is_noise_dir(name: str) -> bool:
    """A folder never holding code: hidden (.git, .lambdatop, .venv, .mypy_cache...), __pycache__, node_modules."""
    return name.startswith(".") or name in NOISE_DIRS


def is_noise(relative: PurePath) -> bool:
    """True for a path (relative to a watched folder) that is not code: hidden, cache, temp or backup."""
    parts = relative.parts
    if not parts:
        return True
    if any(is_noise_dir(directory) for directory in parts[:-1]):
        return True
    name = parts[-1]
    if name in NOISE_DIRS or name in NOISE_NAMES or name.startswith((".", "#")):
        return True  # hidden files cover .swp/.#lock/.goutputstream-*; '#name#' is an emacs autosave
    if name.endswith("~") or name.endswith(NOISE_SUFFIXES) or "___jb_" in name:
        return True  # '~' backups; JetBrains' safe-write temp files ('app.py___jb_tmp___')
    return False


@dataclass(frozen=True, slots=True)
class CodeVersion:
    """One version of a function's code: v<number>, its content hash, and when it was seen."""

    number: int
    sha: str  # sha256 hex of the folder's content
    at: float  # epoch seconds

    @property
    def label(self) -> str:
        return f"v{self.number}"

    @property
    def short(self) -> str:
        return self.sha[:SHORT_HASH]

    def to_dict(self) -> dict[str, object]:
        return {"version": self.label, "hash": self.short, "sha256": self.sha, "at": self.at}


@dataclass(slots=True)
class VersionHistory:
    """The versions of one function seen since lambdatop started, oldest first."""

    versions: list[CodeVersion] = field(default_factory=list)

    @property
    def current(self) -> CodeVersion | None:
        return self.versions[-1] if self.versions else None

    def advance(self, sha: str, at: float | None = None) -> CodeVersion | None:
        """Record a new content hash; None when it is the current one (nothing changed)."""
        current = self.current
        if current is not None and current.sha == sha:
            return None
        version = CodeVersion(len(self.versions) + 1, sha, time.time() if at is None else at)
        self.versions.append(version)
        return version


@dataclass(slots=True)
class FunctionState:
    """What hot reload knows of one function: its code folders, the versions seen, and whether the current one is broken."""

    roots: CodeRoots
    history: VersionHistory = field(default_factory=VersionHistory)
    broken: BrokenCode | None = None

    @property
    def label(self) -> str:
        current = self.history.current
        return current.label if current else "v1"


@dataclass(frozen=True, slots=True)
class CodeRoots:
    """The folders whose content makes up a function's code, and what inside them is excluded."""

    code_dir: Path
    layers: tuple[Path, ...] = ()
    excluded: frozenset[Path] = frozenset()  # config files that happen to live in the code folder
    ignore: tuple[str, ...] = ()  # user glob patterns (relative paths) from the `reload:` section
    watched: bool = True  # False for a function lambdatop cannot run: its code_dir is a stand-in, never read

    @classmethod
    def of(cls, function: FunctionConfig, excluded: Iterable[Path] = (), ignore: Sequence[str] = ()) -> CodeRoots:
        layers = tuple(layer.folder for layer in function.layer_dirs if layer.folder.is_dir())
        return cls(function.code_dir, layers, frozenset(Path(p) for p in excluded), tuple(ignore),
                   watched=function.cannot_run is None)

    @property
    def folders(self) -> tuple[Path, ...]:
        return (self.code_dir, *self.layers) if self.watched else ()

    def counts(self, root: Path, relative: PurePath) -> bool:
        """Whether a file at `relative` under `root` is part of the code."""
        if is_noise(relative):
            return False
        if root == self.code_dir and relative.parts and relative.parts[0] == "events":
            return False  # the function's saved test events: lambdatop's event library, not code
        if (root / relative) in self.excluded:
            return False
        text = relative.as_posix()
        return not any(fnmatch.fnmatch(text, pattern) or fnmatch.fnmatch(relative.name, pattern) for pattern in self.ignore)

    def contains(self, path: Path) -> bool:
        """Whether a changed path belongs to this function's code."""
        for root in self.folders:
            try:
                relative = path.relative_to(root)
            except ValueError:
                continue
            if self.counts(root, relative):
                return True
        return False

    def files(self, root: Path, limits: FolderLimits = FOLDER_LIMITS) -> Iterator[tuple[Path, PurePath]]:
        """(absolute path, relative path) of every regular code file under `root`, in a stable order.

        Raises CodeFolderTooLarge past `limits` (counted over the code files only).
        """
        count = size = 0
        for directory, subdirs, names in os.walk(root):
            base = Path(directory)
            rel_dir = base.relative_to(root)
            # Prune noise folders before descending: a .git or node_modules can be huge.
            subdirs[:] = sorted(d for d in subdirs if not is_noise_dir(d))
            for name in sorted(names):
                relative = rel_dir / name
                if not self.counts(root, relative):
                    continue
                file_size = regular_size(base / name)
                if file_size is None:
                    continue  # a FIFO, socket, device or dangling link: not code, and reading it could block
                count, size = count + 1, size + file_size
                if count > limits.max_files:
                    raise CodeFolderTooLarge(root, f"more than {limits.max_files:,} files")
                if size > limits.max_bytes:
                    raise CodeFolderTooLarge(root, f"more than {limits.max_bytes // (1024 * 1024)} MB")
                yield base / name, relative


def regular_size(path: Path) -> int | None:
    """The size of a regular file (through symlinks); None for anything else or a vanished path."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size if stat_mode.S_ISREG(info.st_mode) else None


class CodeHasher:
    """Content hashes of code folders, with a per-file cache; safe to call from worker threads."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[int, int, str]] = {}
        self._lock = threading.Lock()

    def digest(self, roots: CodeRoots) -> str:
        """sha256 over every code file's relative path and content (blocking: call in a thread)."""
        total = hashlib.sha256()
        for index, root in enumerate(roots.folders):
            total.update(f"root{index}\0".encode())
            for path, relative in roots.files(root):
                file_digest = self._file_digest(path)
                if file_digest is None:
                    continue  # vanished between listing and reading: the next event covers it
                total.update(relative.as_posix().encode() + b"\0" + file_digest.encode() + b"\n")
        return total.hexdigest()

    def _file_digest(self, path: Path) -> str | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        key = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._cache.get(path)
        if cached is not None and cached[:2] == key and time.time() - stat.st_mtime > RACY_WINDOW_S:
            return cached[2]
        digest = hashlib.sha256()
        try:
            # O_NONBLOCK: a path swapped for a FIFO since the listing must not block the open.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            with open(fd, "rb") as handle:
                if not stat_mode.S_ISREG(os.fstat(fd).st_mode):
                    return None
                remaining = stat.st_size  # no more than was listed: a file that keeps growing cannot spin us
                while remaining > 0 and (chunk := handle.read(min(1 << 20, remaining))):
                    digest.update(chunk)
                    remaining -= len(chunk)
        except OSError:
            return None
        value = digest.hexdigest()
        with self._lock:
            self._cache[path] = (*key, value)
        return value


def hash_functions(hasher: CodeHasher, roots: Mapping[str, CodeRoots],
                   too_large: Callable[[str, CodeFolderTooLarge], None]) -> dict[str, str]:
    """Blocking: each function's code hash. A folder too big to be code is versioned by its name alone
    and reported through `too_large` (once per folder: the caller remembers)."""
    hashes = {}
    for name, function_roots in roots.items():
        try:
            hashes[name] = hasher.digest(function_roots)
        except CodeFolderTooLarge as error:
            too_large(name, error)
            hashes[name] = hashlib.sha256(f"too-large:{error.folder}".encode()).hexdigest()
    return hashes


def drop_stale_bytecode(paths: Iterable[Path]) -> None:
    """Remove the cached bytecode of changed sources (blocking: call in a thread).

    CPython trusts a .pyc whose recorded source mtime (whole seconds) and size
    match: an edit of the same length within the same second as the last
    import (`return 1` → `return 2`) would otherwise serve the old code.
    """
    for path in paths:
        if path.suffix != ".py":
            continue
        cache = path.parent / "__pycache__"
        try:
            stale = [entry for entry in cache.iterdir() if entry.name.startswith(path.stem + ".") and entry.suffix == ".pyc"]
        except OSError:
            continue
        for entry in stale:
            try:
                entry.unlink()
            except OSError:
                pass
