"""One invocation's log, written as Lambda's platform writes it, one named event at a time (RIE's `send*LogEvent`).

    INIT_START ─ (Init's output) ─ [INIT_REPORT ...] ─ START ─ (the handler's output) ─ END ─ REPORT
    RESTORE_START ─ (the after-restore hooks' output) ─ RESTORE_REPORT ─ START ...   (a SnapStart version)

The lines themselves, to the character, are `logformat`'s.
"""

from __future__ import annotations

import enum
import time

from lambdatop.runtime import logformat
from lambdatop.runtime.config import FunctionConfig
from lambdatop.runtime.records import InvocationRecord, InvocationStatus


class Phase(enum.StrEnum):
    """The lifecycle phase an INIT_REPORT speaks of: Init proper, or Init retried inside the invoke phase."""

    INIT = "init"
    INVOKE = "invoke"


class InitStatus(enum.StrEnum):
    TIMEOUT = "timeout"
    ERROR = "error"


class InvocationLog:
    """The lines one invocation leaves in its log stream, START to REPORT (and the INIT lines of a cold start).

    With LoggingConfig's JSON format the same moments are written as JSON
    platform events (platform.initStart, .start, .runtimeDone, .report,
    .initReport), those SystemLogLevel lets through, and the function's output
    keeps the events ApplicationLogLevel lets through (by their JSON `level`;
    INFO for a print).
    """

    __slots__ = ("lines", "_runtime", "_region", "_started", "_json", "_system_level", "_application_level", "_traced",
                 "_function_name", "_version", "_python")

    def __init__(self, runtime: str, region: str, *, json_format: bool = False, system_log_level: str | None = None,
                 application_log_level: str | None = None, traced: bool = False, function_name: str = "",
                 version: str = "$LATEST", python_version: str | None = None) -> None:
        self.lines: list[str] = []
        self._runtime = runtime
        self._region = region
        self._python = python_version  # the interpreter that really runs the function ("3.12.1")
        self._started = False
        self._json = json_format
        self._system_level = system_log_level
        self._application_level = (application_log_level or "INFO") if json_format else None  # INFO: the JSON default
        self._traced = traced  # Tracing: Active: REPORT carries the XRAY line
        self._function_name = function_name
        self._version = version

    @classmethod
    def for_function(cls, function: FunctionConfig, region: str, python_version: str | None = None) -> InvocationLog:
        """`python_version`: the interpreter that really runs the function ("3.12.1"), when not lambdatop's own."""
        logging_config = function.logging_config
        return cls(function.runtime, region, json_format=logging_config.json, system_log_level=logging_config.system_log_level,
                   application_log_level=logging_config.application_log_level, traced=function.tracing == "Active",
                   function_name=function.function_name or function.name, python_version=python_version)

    def _event(self, event_type: str, record: dict[str, object]) -> None:
        if logformat.system_event_sent(event_type, self._system_level):
            self.lines.append(logformat.platform_event(event_type, record, time.time()))

    def init_start(self) -> None:
        if self._json:
            self._event("platform.initStart", logformat.init_start_record(self._runtime, self._region, self._function_name,
                                                                          self._version, self._python))
        else:
            self.lines.append(logformat.init_start_line(self._runtime, self._region, self._python))

    def restore_start(self) -> None:
        if self._json:
            self._event("platform.restoreStart", logformat.restore_start_record(self._runtime, self._region, self._function_name,
                                                                                self._version, self._python))
        else:
            self.lines.append(logformat.restore_start_line(self._runtime, self._region, self._python))

    def restore_report(self, restore_ms: float, error_type: str | None = None) -> None:
        if self._json:
            self._event("platform.restoreReport", logformat.restore_report_record(restore_ms, error_type))
        else:
            self.lines.append(logformat.restore_report_line(restore_ms, error_type))

    def init_report(self, init_ms: float, phase: Phase, status: InitStatus, error_type: str | None = None) -> None:
        if self._json:
            self._event("platform.initReport", logformat.init_report_record(init_ms, phase, status, error_type))
        else:
            self.lines.append(logformat.init_report_line(init_ms, phase, status, error_type))

    def start(self, record: InvocationRecord) -> None:
        self._started = True
        if self._json:
            self._event("platform.start", logformat.start_record(record, self._traced))
        else:
            self.lines.append(logformat.start_line(record.request_id, record.version))

    def worker_output(self, text: str) -> None:
        events = logformat.split_output(text)
        if self._application_level:  # the platform's filter: a print is INFO, as is any line without a level
            events = [line for line in events if logformat.application_event_sent(line, self._application_level)]
        self.lines.extend(events)

    def end_and_report(self, record: InvocationRecord) -> list[str]:
        """END and REPORT; an invocation whose Init failed never started, so its START comes first, here."""
        init_failed = not self._started
        if init_failed:
            self.start(record)
        failed_init = init_failed and record.status is InvocationStatus.ERROR
        if self._json:
            self._event("platform.runtimeDone", logformat.runtime_done_record(record))
            self._event("platform.report", logformat.report_record(record, init_failed=failed_init, traced=self._traced))
            return self.lines
        self.lines.append(logformat.end_line(record.request_id))
        self.lines.append(logformat.report_line(record, init_failed=failed_init, traced=self._traced))
        return self.lines
