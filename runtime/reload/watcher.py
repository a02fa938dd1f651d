"""What hot reload watches, and the watching: inotify through watchfiles, or a scan every 200 ms.

`WatchTargets` says which folders to watch and which function (or the config)
a changed path belongs to. `FolderWatcher` hears changes under those folders
and hands the changed paths to a callback; it does not decide when a save is
over (`settle.ChangeBatcher`) nor apply anything (`ReloadService`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from watchfiles import Change, awatch

from lambdatop.runtime.reload.codeversion import CodeFolderTooLarge, CodeRoots
from lambdatop.runtime.config import FleetConfig
from lambdatop.runtime.config.reload_settings import ReloadSettings
from lambdatop.runtime.reload.settle import CONFIG_WATCH_STEP_MS, MAX_BATCH_WINDOW_S, WATCH_STEP_MS

POLL_DELAY_MS = 200  # how often `reload: {poll: true}` scans the folders, and a deleted folder is looked for
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class WatchTargets:
    """Which folders to watch and which function(s), or the config, a changed path belongs to."""

    roots: Mapping[str, CodeRoots]
    config_files: frozenset[Path]
    unwatched: frozenset[Path] = frozenset()  # folders too big to be code (`CodeFolderTooLarge`)

    @classmethod
    def of(cls, config: FleetConfig, settings: ReloadSettings, unwatched: Iterable[Path] = ()) -> WatchTargets:
        files = {config.path}
        for function in config.functions.values():
            # Functions from a SAM template referenced by lambdatop.yaml name that template in `source`.
            source = function.source.rsplit(":", 1)[0]
            if source:
                files.add(Path(source))
        roots = {name: CodeRoots.of(fn, excluded=files, ignore=settings.ignore) for name, fn in config.functions.items()}
        return cls(roots, frozenset(files), frozenset(unwatched))

    @property
    def recursive_folders(self) -> tuple[Path, ...]:
        return _outermost({folder for roots in self.roots.values() for folder in roots.folders if folder not in self.unwatched})

    def _code_files(self, folders: Iterable[Path] | None = None) -> list[Path]:
        found: list[Path] = []
        for roots in self.roots.values():
            for root in roots.folders:
                if root in self.unwatched or (folders is not None and not any(_inside(root, f) for f in folders)):
                    continue
                try:
                    found.extend(path for path, _ in roots.files(root))
                except CodeFolderTooLarge:
                    continue  # grew past the limits since it was hashed: the next hash says so
        return found

    @property
    def config_folders(self) -> tuple[Path, ...]:
        """Folders of the config files not already under a recursive watch (watched one level deep)."""
        recursive = self.recursive_folders
        return tuple(sorted({f.parent for f in self.config_files if not any(_inside(f.parent, r) for r in recursive)}))

    def scan(self) -> dict[Path, tuple[int, int]]:
        """(size, mtime_ns) of every code and config file, for polling (blocking: call in a thread)."""
        found: dict[Path, tuple[int, int]] = {}
        for path in [*self._code_files(), *self.config_files]:
            try:
                stat = path.stat()
            except OSError:
                continue
            found[path] = (stat.st_size, stat.st_mtime_ns)
        return found

    def files_under(self, folders: Iterable[Path]) -> list[Path]:
        """Every code file of every function inside `folders` (blocking)."""
        return self._code_files(list(folders))

    def relevant(self, path: Path) -> bool:
        return path in self.config_files or any(roots.contains(path) for roots in self.roots.values())


class FolderWatcher:
    """Hears changes under the targets' folders and reports the changed paths.

    `targets()` is read on every change (the functions a folder serves can
    change without the folders changing); `on_changed` gets the paths,
    `on_notice` a sentence for the user when watching changes its ways.
    """

    def __init__(
        self,
        targets: Callable[[], WatchTargets | None],
        on_changed: Callable[[Iterable[Path]], None],
        on_notice: Callable[[str], None],
    ) -> None:
        self._targets = targets
        self._on_changed = on_changed
        self._on_notice = on_notice
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._display_root = Path.cwd()

    async def start(self, *, poll: bool, display_root: Path) -> None:
        """Watch the targets' code folders with everything under them, and the config files' folders one level deep."""
        self._stop = asyncio.Event()
        self._display_root = display_root
        targets = self._targets()
        if targets is None:
            return
        if poll:
            baseline = await asyncio.to_thread(targets.scan)
            self._tasks.append(asyncio.create_task(self._poll(baseline, self._stop), name="lambdatop-poll"))
            return
        for folders, deep in ((targets.recursive_folders, True), (targets.config_folders, False)):
            if folders:
                self._tasks.append(asyncio.create_task(self._watch(folders, deep, self._stop), name="lambdatop-watch"))
        # awatch sets up its inotify watches synchronously on its first step: let each watcher take it,
        # so a save right after start() returns is seen.
        await asyncio.sleep(0)

    async def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _watch(self, folders: tuple[Path, ...], recursive: bool, stop: asyncio.Event) -> None:
        """Kernel notifications (inotify) through watchfiles; falls back to polling if they cannot be had.

        A watched folder that is deleted takes its inotify watch with it (watchfiles
        then ends, or goes on without that folder), so each round watches the
        folders that exist and ends when one of them goes or a missing one comes
        back (a branch switch, a build that recreates it). A folder that comes
        back is watched again and its files count as changed.
        """
        watched = tuple(folder for folder in folders if folder.is_dir())
        while not stop.is_set():
            present = tuple(folder for folder in folders if folder.is_dir())
            returned = [folder for folder in present if folder not in watched]
            watched = present
            if returned:
                self._on_notice(f"watching {', '.join(self._display(f) for f in returned)} again: it was deleted and is back")
                targets = self._targets()
                self._on_changed(targets.files_under(returned) if targets is not None else returned)
            round_over = asyncio.Event()
            guard = asyncio.create_task(_await_any_folder([f for f in folders if f not in present], round_over, stop))
            try:
                if not present:
                    await round_over.wait()
                    continue
                async for changes in awatch(
                    *present, watch_filter=self._filter(present), debounce=int(MAX_BATCH_WINDOW_S * 1000),
                    step=WATCH_STEP_MS if recursive else CONFIG_WATCH_STEP_MS, stop_event=round_over, recursive=recursive,
                    force_polling=False, ignore_permission_denied=True,
                ):
                    self._on_changed(path for path in {Path(p) for _, p in changes} if path not in present)
                    gone = {Path(path) for change, path in changes if change is Change.deleted and Path(path) in present}
                    if gone:
                        # A watched folder went: watch again what is left. Forget it was watched, so that if it is
                        # already back when the next round looks (rm -rf then a fast rebuild) it counts as returned.
                        watched = tuple(folder for folder in watched if folder not in gone)
                        round_over.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - e.g. the inotify watch limit reached
                targets = self._targets()
                if stop.is_set() or targets is None:
                    return
                self._on_notice(f"file watching fell back to polling every {POLL_DELAY_MS} ms: {exc}")
                await self._poll(await asyncio.to_thread(targets.scan), stop)
                return
            finally:
                guard.cancel()

    async def _poll(self, previous: dict[Path, tuple[int, int]], stop: asyncio.Event) -> None:
        """Scan size and mtime (ns) of every code and config file (`reload: {poll: true}`).

        Our own scan, not watchfiles' poller: that one compares whole-second
        mtimes, so a second save within the same second would go unseen.
        """
        while True:
            try:
                await asyncio.wait_for(stop.wait(), POLL_DELAY_MS / 1000)
                return
            except TimeoutError:
                pass
            targets = self._targets()
            if targets is None:
                return
            current = await asyncio.to_thread(targets.scan)
            changed = [path for path in previous.keys() | current.keys() if previous.get(path) != current.get(path)]
            previous = current
            if changed:
                self._on_changed(changed)

    def _filter(self, folders: tuple[Path, ...]) -> Callable[[Change, str], bool]:
        """Code and config files only, and the deletion of a watched folder itself."""
        def relevant(change: Change, path: str) -> bool:
            targets = self._targets()
            return Path(path) in folders or (targets is not None and targets.relevant(Path(path)))
        return relevant

    def _display(self, path: Path) -> str:
        return display_path(path, self._display_root)


async def _await_any_folder(missing: list[Path], found: asyncio.Event, stop: asyncio.Event) -> None:
    """Set `found` when one of the `missing` folders exists again, or when `stop` is set."""
    while not stop.is_set() and not any(folder.is_dir() for folder in missing):
        try:
            await asyncio.wait_for(stop.wait(), POLL_DELAY_MS / 1000)
        except TimeoutError:
            pass
    found.set()


def display_path(path: Path, root: Path) -> str:
    """A path as the user reads it: relative to the project when inside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _outermost(folders: Iterable[Path]) -> tuple[Path, ...]:
    ordered = sorted(folders, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for folder in ordered:
        if not any(_inside(folder, outer) for outer in kept):
            kept.append(folder)
    return tuple(sorted(kept))
