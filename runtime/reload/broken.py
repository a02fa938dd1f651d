"""Broken code: why the current code version cannot serve, and the file and line to look at.

Found by the early Init of a new version (or the first invocation that hits it),
from the error object Lambda would return and the real traceback's deepest
`File "...", line N`.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from lambdatop.runtime.records import InvocationResult, InvocationStatus

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
