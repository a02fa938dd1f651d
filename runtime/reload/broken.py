"""Broken code: why the current code version cannot serve, and the file and line to look at.

Found by the early Init of a new version (or the first invocation that hits it),
from the error object Lambda would return and the real traceback's deepest
`File "...", line N`. `BrokenTracker` keeps each function's mark and says when
it changes.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.records import InvocationResult, InvocationStatus
from lambdatop.runtime.reload.watcher import display_path

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet
    from lambdatop.runtime.reload.codeversion import FunctionState

_TRACEBACK_LOCATION = re.compile(r'File "(?P<file>[^"]+)",? [Ll]ine (?P<line>\d+)')


@dataclass(frozen=True, slots=True)
class BrokenCode:
    """Why the current code version cannot serve, and where."""

    version: str
    error_type: str
    message: str
    file: str | None
    line: int | None
    at: float

    @property
    def where(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "error_type": self.error_type, "message": self.message,
                "file": self.file, "line": self.line, "where": self.where, "at": self.at}


def problem_from_error(error: dict[str, Any] | None) -> dict[str, Any] | None:
    """A Lambda error object as a broken-code problem, with the location its stack trace gives."""
    if not error:
        return None
    stack = error.get("stackTrace") or []
    location = location_in([str(element) for element in stack])
    file, line = location if location else (None, None)
    return {"errorType": error.get("errorType"), "errorMessage": error.get("errorMessage"), "file": file, "line": line}


def location_in(lines: list[str]) -> tuple[str, int] | None:
    """The deepest `File "...", line N` in traceback text."""
    found = None
    for text in lines:
        for match in _TRACEBACK_LOCATION.finditer(text):
            found = (match["file"], int(match["line"]))
    return found


def problem_from_exit(failure: str, logs: str) -> dict[str, Any]:
    """A runtime that died in Init (a crash, a kill): Runtime.ExitError, at the last location its output names."""
    location = location_in([line for line in logs.splitlines() if line.strip()])
    file, line = location if location else (None, None)
    return {"errorType": "Runtime.ExitError", "errorMessage": f"Runtime exited during Init ({failure})", "file": file, "line": line}


def broken_by(problem: dict[str, Any], version: str, shown_file: str | None) -> BrokenCode:
    """The breakage a problem (`problem_from_error`'s) makes of `version`; `shown_file` as the user sees it."""
    return BrokenCode(version=version, error_type=str(problem.get("errorType") or "Runtime.Unknown"),
                      message=str(problem.get("errorMessage") or ""), file=shown_file, line=problem.get("line"), at=time.time())


def same_breakage(a: BrokenCode | None, b: BrokenCode) -> bool:
    """Already said: the same version broken the same way at the same place."""
    return a is not None and (a.version, a.error_type, a.message, a.where) == (b.version, b.error_type, b.message, b.where)


def verdict(result: InvocationResult, version: str, known: BrokenCode | None) -> dict[str, Any] | None | bool:
    """What an invocation of the current `version` says of it: a problem (broken), True (it works), or
    False (nothing new: another version, an ordinary error, or a breakage already known better)."""
    record = result.record
    if record.code_version != version:
        return False
    init_failed = record.init_suppressed and record.status is InvocationStatus.ERROR
    if init_failed or record.error_type == "Runtime.HandlerNotFound":
        if known is not None and known.version == version:
            return False  # the pre-warm already said why, with a better location
        try:
            error = json.loads(result.response)
        except ValueError:
            error = {"errorType": record.error_type, "errorMessage": record.error_message}
        return problem_from_error(error if isinstance(error, dict) else None) or {"errorType": record.error_type}
    return record.status is InvocationStatus.SUCCESS and known is not None


# publish(kind, message, function=..., detail=...): a FleetEvent on the bus (ReloadService._publish).
Publish = Callable[..., None]


class BrokenTracker:
    """Marks each function's current code version broken or healthy, and publishes `broken` / `healed`.

    Told by the early Init of a new version (`probed`) and by invocations (`observe`):
    an Init error on the current version marks it broken, a success clears the mark
    (this also catches code that was broken when lambdatop started).
    """

    def __init__(self, fleet: Fleet, states: Mapping[str, FunctionState], publish: Publish) -> None:
        self.fleet = fleet
        self._states = states
        self._publish = publish

    def probed(self, name: str, label: str, problem: dict[str, Any] | None) -> None:
        """An early Init finished: mark the function broken or healthy, unless a newer save superseded it."""
        state = self._states.get(name)
        pool = self.fleet.pools.get(name)
        if state is None or state.label != label or pool is None or pool.code_version != label:
            return
        self._mark(name, state, problem)

    def observe(self, result: InvocationResult) -> None:
        state = self._states.get(result.record.function)
        if state is None:
            return
        said = verdict(result, state.label, state.broken)
        if said is True:
            self._mark(result.record.function, state, None)
        elif said:
            self._mark(result.record.function, state, said)

    def _mark(self, name: str, state: FunctionState, problem: dict[str, Any] | None) -> None:
        if problem is None:
            if state.broken is not None:
                state.broken = None
                self._publish("healed", f"{name}: {state.label} works again", function=name,
                              detail={"function": name, "version": state.label})
            return
        file = problem.get("file")
        broken = broken_by(problem, state.label, display_path(Path(file), self.fleet.config.root) if file else None)
        if same_breakage(state.broken, broken):
            return
        state.broken = broken
        where = f" at {broken.where}" if broken.where else ""
        self._publish("broken", f"{name}: {broken.version} is broken: {broken.error_type}{where}: {broken.message}",
                      function=name, detail={"function": name, **broken.to_dict()})
