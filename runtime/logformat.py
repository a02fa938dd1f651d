"""The log lines Lambda itself writes, to the character (see LAMBDA.md §2).

START has a plain space before `Version:`; REPORT separates fields with tabs
and, on success, ends with one. A platform failure appends `Status:` and
`Error Type:` in the newer format, which prints no separate "Task timed out"
line. With LoggingConfig's JSON format the same events are Telemetry API
objects (`platform_event` and the `*_record` builders below).
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import re
import time

from lambdatop.runtime.records import InvocationRecord, InvocationStatus

_PLATFORM_TYPE = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")  # unanchored, as Go's regexp.MatchString
_PLATFORM_STATUS = {
    InvocationStatus.TIMEOUT: "timeout",
    InvocationStatus.OUT_OF_MEMORY: "error",
    InvocationStatus.CRASHED: "error",
}


def billed_duration_ms(duration_ms: float, init_duration_ms: float | None, billed_restore_ms: int | None = None) -> int:
    """ceil(Duration + Init Duration), on the two-decimal values printed (Init billed since Aug 2025); a SnapStart
    restore adds its Billed Restore Duration instead (a REPORT of 2338.66 ms + 182 ms bills 2521 ms)."""
    total = round(duration_ms, 2) + (round(init_duration_ms, 2) if init_duration_ms is not None else 0.0)
    total += billed_restore_ms or 0
    return max(1, math.ceil(round(total, 2)))


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(record: InvocationRecord, *, init_failed: bool = False, traced: bool = False) -> str:
    line = (
        f"REPORT RequestId: {record.request_id}\tDuration: {record.duration_ms:.2f} ms\t"
        f"Billed Duration: {record.billed_duration_ms} ms\tMemory Size: {record.memory_size_mb} MB\t"
        f"Max Memory Used: {record.max_memory_used_mb} MB\t"
    )
    if record.init_duration_ms is not None:
        line += f"Init Duration: {record.init_duration_ms:.2f} ms\t"
    if record.restore_duration_ms is not None:
        line += (f"Restore Duration: {record.restore_duration_ms:.2f} ms\t"
                 f"Billed Restore Duration: {record.billed_restore_duration_ms or 0} ms\t")
    status = _PLATFORM_STATUS.get(record.status)
    if init_failed:
        status = "error"
    if status == "timeout":
        line += "Status: timeout"
    elif status == "error":
        line += f"Status: error\tError Type: {platform_error_type(record.error_type) if init_failed else record.error_type}"
    if traced and record.trace_id:
        line += f"\nXRAY TraceId: {record.trace_id}\tSegmentId: {record.segment_id}\tSampled: true\t"
    return line


def runtime_version(runtime: str, python_version: str | None = None) -> str:
    """What INIT_START names as the runtime version: the interpreter that really runs the code
    (`python_version`, "3.12.1", when it is not lambdatop's own), as Lambda's `python:3.12.v<release>`."""
    if runtime.startswith("provided"):  # Lambda's own words: provided:al2023.v16
        return f"provided:{runtime.partition('.')[2] or 'al2'}.v1"
    if runtime.startswith("nodejs"):
        return f"nodejs:{runtime.removeprefix('nodejs').removesuffix('.x')}.v1"
    major, minor, micro = (python_version or platform.python_version()).split(".")[:3]
    return f"python:{major}.{minor}.v{micro}"


def init_start_line(runtime: str, region: str, python_version: str | None = None) -> str:
    version = runtime_version(runtime, python_version)
    digest = hashlib.sha256(version.encode()).hexdigest()
    return f"INIT_START Runtime Version: {version}\tRuntime Version ARN: arn:aws:lambda:{region}::runtime:{digest}"


def restore_start_line(runtime: str, region: str, python_version: str | None = None) -> str:
    """A SnapStart environment's first line: RESTORE_START, where others write INIT_START (DG snapstart-monitoring)."""
    return "RESTORE_START" + init_start_line(runtime, region, python_version)[len("INIT_START"):]


def restore_report_line(restore_ms: float, error_type: str | None = None) -> str:
    """RESTORE_REPORT, always written; with `Status: error` and the type when the after-restore hooks failed."""
    line = f"RESTORE_REPORT Restore Duration: {restore_ms:.2f} ms"
    if error_type:
        line += f"\tStatus: error\tError Type: {platform_error_type(error_type)}"
    return line


def init_report_line(init_ms: float, phase: str, status: str, error_type: str | None = None) -> str:
    line = f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: {phase}\tStatus: {status}"
    if error_type:
        line += f"\tError Type: {platform_error_type(error_type)}"
    return line


def platform_error_type(error_type: str | None) -> str:
    """The error type the platform logs for one a runtime reported (RIE fatalerror.go:60,
    GetValidRuntimeOrFunctionErrorType): `Runtime.X`/`Function.X` as given, else `Runtime.Unknown`
    (`Function.Unknown` for a malformed `Function.` one). The payload keeps the runtime's own type."""
    value = error_type or ""
    if _PLATFORM_TYPE.search(value):
        return value
    return "Function.Unknown" if value.startswith("Function.") else "Runtime.Unknown"


def split_output(text: str) -> list[str]:
    """A worker's captured output as log events: one per line, where a `\r` inside a line is a line
    break within one event (the runtime writes a multi-line record, the [ERROR] traceback, that way:
    awslambdaric bootstrap.py StandardLogSink.log_error), as Lambda keeps a runtime's record in one event."""
    if not text:
        return []
    lines = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
    return [line.rstrip("\r").replace("\r", "\n") if "\r" in line else line for line in lines]


# -- LogFormat: JSON: the same events as Telemetry API objects (LAMBDA.md §2, "JSON format") ----------

# The system log level each event is sent at (DG:monitoring-cloudwatchlogs-log-level, "event mapping for
# system log level"): start, report and the init events at INFO, runtimeDone at DEBUG.
SYSTEM_EVENT_LEVEL = {
    "platform.initStart": "INFO", "platform.initReport": "INFO", "platform.start": "INFO",
    "platform.runtimeDone": "DEBUG", "platform.report": "INFO",
    "platform.restoreStart": "INFO", "platform.restoreReport": "INFO",
}
_LEVEL_ORDER = {"DEBUG": 0, "INFO": 1, "WARN": 2}


# ApplicationLogLevel, least to most severe; Python's names for two of them.
_APPLICATION_ORDER = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "WARNING": 3, "ERROR": 4, "FATAL": 5, "CRITICAL": 5}


def application_event_sent(line: str, application_log_level: str | None) -> bool:
    """Whether ApplicationLogLevel lets a line of the function's output through (JSON format only).

    As Lambda filters it (DG:monitoring-cloudwatchlogs-log-level): a JSON object's `level`, and
    INFO for anything without a valid one (a `print`, a text line).
    """
    if not application_log_level:
        return True
    level = "INFO"
    if line.startswith("{"):
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if isinstance(value, dict) and str(value.get("level", "")).upper() in _APPLICATION_ORDER:
            level = str(value["level"]).upper()
    return _APPLICATION_ORDER[level] >= _APPLICATION_ORDER[application_log_level]


def system_event_sent(event_type: str, system_log_level: str | None) -> bool:
    """Whether SystemLogLevel lets this event through (INFO when not set)."""
    return _LEVEL_ORDER[SYSTEM_EVENT_LEVEL[event_type]] >= _LEVEL_ORDER[system_log_level or "INFO"]


def platform_event(event_type: str, record: dict[str, object], at: float) -> str:
    """`{"time", "type", "record"}`, time as Lambda writes it: UTC, milliseconds, `Z`."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"
    return json.dumps({"time": stamp, "type": event_type, "record": record}, separators=(",", ":"))


def init_start_record(runtime: str, region: str, function_name: str, version: str,
                      python_version: str | None = None) -> dict[str, object]:
    runtime_ver = runtime_version(runtime, python_version)
    return {
        "initializationType": "on-demand", "phase": "init", "runtimeVersion": runtime_ver,
        "runtimeVersionArn": f"arn:aws:lambda:{region}::runtime:{hashlib.sha256(runtime_ver.encode()).hexdigest()}",
        "functionName": function_name, "functionVersion": version,
    }


def restore_start_record(runtime: str, region: str, function_name: str, version: str,
                         python_version: str | None = None) -> dict[str, object]:
    """platform.restoreStart (the Telemetry API's schema)."""
    record = init_start_record(runtime, region, function_name, version, python_version)
    del record["initializationType"], record["phase"]
    return record


def restore_report_record(restore_ms: float, error_type: str | None) -> dict[str, object]:
    """platform.restoreReport."""
    record: dict[str, object] = {"status": "error" if error_type else "success"}
    if error_type:
        record["errorType"] = platform_error_type(error_type)
    record["metrics"] = {"durationMs": round(restore_ms, 3)}
    return record


def init_report_record(init_ms: float, phase: str, status: str, error_type: str | None) -> dict[str, object]:
    record: dict[str, object] = {"initializationType": "on-demand", "phase": phase, "status": status}
    if error_type:
        record["errorType"] = platform_error_type(error_type)
    record["metrics"] = {"durationMs": round(init_ms, 3)}
    return record


def _tracing(record: InvocationRecord) -> dict[str, object] | None:
    if not record.trace_id:
        return None
    return {"spanId": record.segment_id, "type": "X-Amzn-Trace-Id",
            "value": f"Root={record.trace_id};Parent={record.segment_id};Sampled=1"}


def start_record(record: InvocationRecord, traced: bool) -> dict[str, object]:
    fields: dict[str, object] = {"requestId": record.request_id, "version": record.version}
    tracing = _tracing(record) if traced else None
    if tracing:
        fields["tracing"] = tracing
    return fields


def runtime_done_record(record: InvocationRecord) -> dict[str, object]:
    status = _PLATFORM_STATUS.get(record.status) or ("error" if record.error_type else "success")
    fields: dict[str, object] = {"requestId": record.request_id, "status": status}
    if record.error_type and status != "timeout":
        fields["errorType"] = record.error_type
    fields["metrics"] = {"durationMs": round(record.duration_ms, 3)}
    return fields


def report_record(record: InvocationRecord, *, init_failed: bool, traced: bool) -> dict[str, object]:
    """platform.report: the REPORT line's figures and status (`success` where the line shows none)."""
    metrics: dict[str, object] = {
        "durationMs": round(record.duration_ms, 2), "billedDurationMs": record.billed_duration_ms,
        "memorySizeMB": record.memory_size_mb, "maxMemoryUsedMB": record.max_memory_used_mb,
    }
    if record.init_duration_ms is not None:
        metrics["initDurationMs"] = round(record.init_duration_ms, 2)
    if record.restore_duration_ms is not None:
        metrics["restoreDurationMs"] = round(record.restore_duration_ms, 2)
        metrics["billedRestoreDurationMs"] = record.billed_restore_duration_ms or 0
    status = "error" if init_failed else _PLATFORM_STATUS.get(record.status, "success")
    fields: dict[str, object] = {"requestId": record.request_id, "metrics": metrics, "status": status}
    if status == "error":
        fields["errorType"] = platform_error_type(record.error_type) if init_failed else record.error_type
    tracing = _tracing(record) if traced else None
    if tracing:
        fields["tracing"] = tracing
    return fields
