"""One invocation's log, written as Lambda's platform writes it, one named event at a time (RIE's `send*LogEvent`).

    INIT_START ─ (Init's output) ─ [INIT_REPORT ...] ─ START ─ (the handler's output) ─ END ─ REPORT

The lines themselves, to the character, are `logformat`'s.
"""

from __future__ import annotations

import enum

from lambdatop.runtime import logformat
from lambdatop.runtime.records import InvocationRecord, InvocationStatus


class Phase(enum.StrEnum):
    """The lifecycle phase an INIT_REPORT speaks of: Init proper, or Init retried inside the invoke phase."""

    INIT = "init"
    INVOKE = "invoke"


class InitStatus(enum.StrEnum):
    TIMEOUT = "timeout"
    ERROR = "error"


class InvocationLog:
    """The lines one invocation leaves in its log stream, START to REPORT (and the INIT lines of a cold start)."""

    __slots__ = ("lines", "_runtime", "_region", "_started", "_python")

    def __init__(self, runtime: str, region: str, python_version: str | None = None) -> None:
        self.lines: list[str] = []
        self._runtime = runtime
        self._region = region
        self._python = python_version  # the interpreter that really runs the function ("3.12.1")
        self._started = False

    def init_start(self) -> None:
        self.lines.append(logformat.init_start_line(self._runtime, self._region, self._python))

    def init_report(self, init_ms: float, phase: Phase, status: InitStatus, error_type: str | None = None) -> None:
        self.lines.append(logformat.init_report_line(init_ms, phase, status, error_type))

    def start(self, record: InvocationRecord) -> None:
        self._started = True
        self.lines.append(logformat.start_line(record.request_id, record.version))

    def worker_output(self, text: str) -> None:
        self.lines.extend(logformat.split_output(text))

    def end_and_report(self, record: InvocationRecord) -> list[str]:
        """END and REPORT; an invocation whose Init failed never started, so its START comes first, here."""
        init_failed = not self._started
        if init_failed:
            self.start(record)
        self.lines.append(logformat.end_line(record.request_id))
        self.lines.append(logformat.report_line(record, init_failed=init_failed and record.status is InvocationStatus.ERROR))
        return self.lines
