"""Hot reload: code and config changes reach the fleet on save, safely and visibly.

`ReloadService` watches every function's code folder (and layers) and the
config file (through `watcher.FolderWatcher`), waits until what it hears is a
finished save (`settle.ChangeBatcher`: an editor's save is often several writes,
a temp file and a rename) and turns each batch into at most one reload per function:

- code: a new content hash makes a new code version (v2, v3, ...). The pool
  switches to it: idle environments of the old version go at once, busy ones
  finish their invocation on the old code and then go. One environment of the
  new version is initialised right away (as Lambda may initialise early), so
  broken code (a syntax error, an import error, a missing handler) is reported
  with its file and line before anyone invokes, and the next good save heals it
  (`broken.BrokenTracker`);
- config: the file is loaded again off the loop; functions added, removed or
  changed (memory, timeout, reserved concurrency, environment...) are applied
  live. An invalid config is reported with file, key and line and the last good
  one keeps running.

The screen reads `fleet.snapshot().reload` (a `ReloadView` of versions and
breakage per function) and `.config_error`; reloads, breakage and config errors
are also published on the bus as `FleetEvent`s.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lambdatop.runtime.bus import FleetEvent, Subscription
from lambdatop.runtime.reload.codeversion import (
    CodeFolderTooLarge, CodeHasher, CodeRoots, FunctionState, drop_stale_bytecode, hash_functions,
)
from lambdatop.runtime.config import FleetConfig, FunctionConfig, load_config
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult
from lambdatop.runtime.snapshot import BrokenView, CodeVersionView, ConfigErrorView, ReloadView
from lambdatop.runtime.config.reload_settings import ReloadSettings
from lambdatop.runtime.reload.broken import BrokenTracker
from lambdatop.runtime.reload.probe import InitProbes
from lambdatop.runtime.reload.changes import ENVIRONMENT_FIELDS, config_changes, plain_changes, reload_message
from lambdatop.runtime.reload.settle import ChangeBatcher
from lambdatop.runtime.reload.watcher import FolderWatcher, WatchTargets, display_path



# -- state ---------------------------------------------------------------------------


class WatcherState(enum.StrEnum):
    NEW = "new"
    WATCHING = "watching"
    STOPPED = "stopped"


# -- the service ---------------------------------------------------------------------


class ReloadService:
    """Watches code and config; applies changes to a running fleet. A `Service` (see `Fleet.add_service`)."""

    def __init__(self, settings: ReloadSettings | None = None) -> None:
        self._settings_override = settings
        self.settings = settings or ReloadSettings()
        self.fleet: Fleet | None = None
        self.hasher = CodeHasher()
        self.states: dict[str, FunctionState] = {}
        self.config_error: ConfigError | None = None
        self.config_error_at: float | None = None
        self.state = WatcherState.NEW
        self._targets: WatchTargets | None = None
        self._too_large: set[Path] = set()  # code folders past FolderLimits: hashed by name only, never watched
        self._batcher = ChangeBatcher(lambda: self.settings.debounce_ms / 1000)
        self._watcher = FolderWatcher(lambda: self._targets, self._batcher.add, lambda message: self._publish("notice", message))
        self._tasks: list[asyncio.Task[None]] = []
        self._subscription: Subscription | None = None
        self._probes: InitProbes | None = None
        self._broken: BrokenTracker | None = None

    # -- lifecycle ------------------------------------------------------------------

    async def start(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self._loop = asyncio.get_running_loop()
        self._broken = BrokenTracker(fleet, self.states, self._publish)
        self._probes = InitProbes(fleet, self._broken.probed, lambda name, message: self._publish("notice", message, function=name))
        if self._settings_override is None:
            self.settings = ReloadSettings.from_config(fleet.config)
        self._targets = WatchTargets.of(fleet.config, self.settings)
        # The first code version of every function: hashing reads files, so off the loop.
        hashes = await asyncio.to_thread(self._hash, dict(self._targets.roots))
        self._targets = WatchTargets.of(fleet.config, self.settings, self._too_large)
        now = time.time()
        for name, roots in self._targets.roots.items():
            state = FunctionState(roots)
            state.history.advance(hashes[name], now)
            self.states[name] = state
            if name in fleet.pools:
                fleet.pools[name].code_version = state.label
        fleet.snapshot_providers["reload"] = self.snapshot
        fleet.snapshot_providers["config_error"] = self.config_error_snapshot
        self._subscription = fleet.subscribe("reload", maxlen=5_000)
        self._tasks = [
            asyncio.create_task(self._apply_batches(), name="lambdatop-reload"),
            asyncio.create_task(self._watch_records(), name="lambdatop-reload-records"),
        ]
        if self.settings.enabled:
            await self._start_watchers()

    async def stop(self) -> None:
        await self._stop_watchers()
        probes = self._probes.running() if self._probes is not None else []
        for task in [*self._tasks, *probes]:
            task.cancel()
        await asyncio.gather(*self._tasks, *probes, return_exceptions=True)
        self._tasks = []
        if self.fleet is not None:
            if self._subscription is not None:
                self.fleet.bus.unsubscribe(self._subscription)
            self.fleet.snapshot_providers.pop("reload", None)
            self.fleet.snapshot_providers.pop("config_error", None)
        self.state = WatcherState.STOPPED

    async def settled(self, timeout: float = 10.0) -> None:
        """Wait until no change is pending and every pre-warm has finished (for tests and the bench)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await asyncio.wait_for(self._batcher.idle.wait(), max(deadline - asyncio.get_running_loop().time(), 0.001))
            probes = self._probes.running() if self._probes is not None else []
            if probes:
                await asyncio.wait(probes, timeout=max(deadline - asyncio.get_running_loop().time(), 0.001))
            if self._batcher.idle.is_set() and not self._batcher.pending and all(p.done() for p in probes):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError

    @property
    def heard(self) -> frozenset[Path]:
        """Changed paths heard and not yet applied (waiting for their save to be over)."""
        return frozenset(self._batcher.pending)

    # -- snapshot providers -----------------------------------------------------------

    def snapshot(self) -> dict[str, ReloadView]:
        """Per function: the code versions seen and the last failed save, for the screen."""
        return {
            name: ReloadView(
                versions=tuple(CodeVersionView(v.label, v.short, v.sha, v.at) for v in state.history.versions),
                current=state.label,
                broken=BrokenView(b.version, b.error_type, b.message, b.file, b.line, b.where, b.at) if (b := state.broken) else None,
            )
            for name, state in self.states.items()
        }

    def config_error_snapshot(self) -> ConfigErrorView | None:
        """The config error the last good config is running despite, or None."""
        error = self.config_error
        if error is None:
            return None
        return ConfigErrorView(file=str(error.path), line=error.line, key=error.key, function=error.function,
                               message=error.message, text=str(error), at=self.config_error_at)

    # -- watching -------------------------------------------------------------------

    async def _start_watchers(self) -> None:
        assert self._targets is not None and self.fleet is not None
        await self._watcher.start(poll=self.settings.poll, display_root=self.fleet.config.root)
        self.state = WatcherState.WATCHING

    async def _stop_watchers(self) -> None:
        await self._watcher.stop()

    # -- applying changes ----------------------------------------------------------------

    async def _apply_batches(self) -> None:
        """Apply each settled batch of changes."""
        while True:
            batch = await self._batcher.next_batch()
            try:
                if batch:
                    await self._apply(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug here must not end hot reload for the session
                self._publish("error", f"reload failed: {type(exc).__name__}: {exc}")
            finally:
                self._batcher.done()

    async def _apply(self, batch: set[Path]) -> None:
        fleet, targets = self.fleet, self._targets
        assert fleet is not None and targets is not None
        if not fleet.running:
            return
        old_config = fleet.config
        new_config = old_config
        if any(path in targets.config_files for path in batch):
            loaded = await self._load_config(old_config.path)
            if loaded is not None:
                new_config = loaded
        code_changed = {name for name, roots in targets.roots.items() if any(roots.contains(path) for path in batch)}
        await self._apply_config_and_code(old_config, new_config, code_changed, batch)

    async def _load_config(self, path: Path) -> FleetConfig | None:
        """The config file again, or None (with a config_error event) when it is invalid."""
        try:
            config = await asyncio.to_thread(self.fleet.config_loader if self.fleet else load_config, path)
            settings = self._settings_override or ReloadSettings.from_config(config)
        except ConfigError as error:
            self.config_error, self.config_error_at = error, time.time()
            self._publish("config_error", f"{error} — the last good config keeps running", function=error.function, detail={
                "file": error.path, "line": error.line, "key": error.key, "function": error.function, "message": error.message,
            })
            return None
        if self.config_error is not None:
            self.config_error = self.config_error_at = None
            self._publish("config_ok", f"{path.name}: config is valid again")
        if settings != self.settings:
            restart = (settings.poll, settings.ignore, settings.enabled) != (self.settings.poll, self.settings.ignore, self.settings.enabled)
            self.settings = settings
            if restart:
                await self._stop_watchers()
                self._targets = WatchTargets.of(config, settings, self._too_large)
                if settings.enabled:
                    await self._start_watchers()
        return config

    async def _apply_config_and_code(self, old: FleetConfig, new: FleetConfig, code_changed: set[str], batch: set[Path]) -> None:
        fleet = self.fleet
        assert fleet is not None
        before = dict(fleet.functions)
        after = dict(new.functions)
        account_changed = await self._adopt_config(old, new) if new is not old else False
        targets = self._targets
        assert targets is not None
        for name in sorted(set(before) - set(after)):
            self._remove(name)
        # Which functions need a new hash: code touched, newly added, or pointed at other folders.
        rehash = {n for n in code_changed if n in after} | (set(after) - set(before))
        rehash |= {n for n in set(after) & set(before) if n not in self.states or targets.roots[n] != self.states[n].roots}
        changed_files = [p for p in batch if p.suffix == ".py"]
        roots = {name: targets.roots[name] for name in rehash}
        hashes = await asyncio.to_thread(self._hash, roots, changed_files) if roots else {}
        if not fleet.running:
            return
        for name in sorted(after):
            if name not in before:
                self._add(after[name], hashes[name])
            else:
                self._update(before[name], after[name], hashes.get(name), account_changed, batch)

    async def _adopt_config(self, old: FleetConfig, new: FleetConfig) -> bool:
        """Account-wide settings and watch targets of a new config; True when region or account changed."""
        assert self.fleet is not None
        self.fleet.replace_config(new)
        targets = WatchTargets.of(new, self.settings, self._too_large)
        current = self._targets
        if current is None or (targets.recursive_folders, targets.config_folders) != (current.recursive_folders, current.config_folders):
            await self._stop_watchers()
            self._targets = targets
            if self.settings.enabled:
                await self._start_watchers()
        self._targets = targets
        restart_only = sorted(k for k in set(old.sections) | set(new.sections)
                              if k != "reload" and old.sections.get(k) != new.sections.get(k))
        if restart_only:
            self._publish("notice", f"{new.path.name}: changes to {', '.join(restart_only)} apply when lambdatop restarts")
        return (old.region, old.account_id) != (new.region, new.account_id)

    def _remove(self, name: str) -> None:
        assert self.fleet is not None
        self.fleet.remove_function(name)
        self.states.pop(name, None)
        if self._probes is not None:
            self._probes.cancel(name)
        self._publish("reload", f"{name}: removed from the config", function=name, detail={"function": name, "reason": "removed"})

    def _add(self, function: FunctionConfig, digest: str) -> None:
        assert self.fleet is not None and self._targets is not None
        name = function.name
        state = FunctionState(self._targets.roots[name])
        state.history.advance(digest)
        current = state.history.current
        assert current is not None  # a first hash always makes a version
        self.states[name] = state
        self.fleet.add_function(function, state.label)
        self._publish("reload", f"{name}: added ({state.label}, {current.short})", function=name,
                      detail={"function": name, "reason": "added", "to": state.label, "hash": current.short})
        assert self._probes is not None
        self._probes.start(name, self.states[name].label)

    def _update(self, before: FunctionConfig, function: FunctionConfig, digest: str | None, account_changed: bool,
                batch: set[Path]) -> None:
        """A function in both configs: a new code version, changed settings, or both (or nothing to do)."""
        fleet, targets = self.fleet, self._targets
        assert fleet is not None and targets is not None
        name = function.name
        state = self.states.setdefault(name, FunctionState(targets.roots[name]))
        state.roots = targets.roots[name]
        previous = state.label
        version = state.history.advance(digest) if digest is not None else None
        changes = config_changes(before, function)
        recycle = version is not None or account_changed or any(key in ENVIRONMENT_FIELDS for key in changes)
        if not recycle and not changes:
            return
        fleet.update_function(function, version.label if version else None, recycle=recycle)
        current = state.history.current
        detail: dict[str, Any] = {"function": name, "from": previous, "to": state.label, "hash": current.short if current else "",
                                  "reason": "code+config" if version and changes else "code" if version else "config",
                                  "changes": plain_changes(changes), "recycled": recycle,
                                  "files": sorted(display_path(p, fleet.config.root) for p in batch if state.roots.contains(p))[:20]}
        message = reload_message(name, previous, (version.label, version.short) if version else None, changes, recycle)
        self._publish("reload", message, function=name, detail=detail)
        if recycle:
            assert self._probes is not None
            self._probes.start(name, self.states[name].label)

    def _notice_too_large(self, name: str, error: CodeFolderTooLarge) -> None:
        self._publish("notice", f"{name}: {error}", function=name)

    def _hash(self, roots: Mapping[str, CodeRoots], changed_sources: Iterable[Path] = ()) -> dict[str, str]:
        """Blocking: drop stale bytecode of changed sources, then hash each function's code."""
        drop_stale_bytecode(changed_sources)
        return hash_functions(self.hasher, roots, self._too_large_folder)

    def _too_large_folder(self, name: str, error: CodeFolderTooLarge) -> None:
        """Said once per folder, which is then left unwatched; from the hashing thread (the bus is the loop's)."""
        if error.folder not in self._too_large:
            self._too_large.add(error.folder)
            self._loop.call_soon_threadsafe(self._notice_too_large, name, error)

    # -- broken code -----------------------------------------------------------------

    async def _watch_records(self) -> None:
        """Invocations confirm or reveal whether the current version works (`BrokenTracker.observe`)."""
        assert self._subscription is not None and self._broken is not None
        while True:
            for item in await self._subscription.wait(1.0):
                if isinstance(item, InvocationResult):
                    self._broken.observe(item)

    # -- helpers ---------------------------------------------------------------------

    def _publish(self, kind: str, message: str, *, function: str | None = None, detail: dict[str, Any] | None = None) -> None:
        if self.fleet is None:
            return
        self.fleet.bus.publish(FleetEvent(kind, message, time.time(), function, detail or {}))
