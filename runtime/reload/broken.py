"""Broken code: why the current code version cannot serve, and the file and line to look at.

Found by the early Init of a new version (or the first invocation that hits it),
from the error object Lambda would return and the real traceback's deepest
`File "...", line N`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

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
