"""The log lines Lambda itself writes, to the character (see LAMBDA.md §2).

START has a plain space before `Version:`; REPORT separates fields with tabs
and, on success, ends with one. A platform failure appends `Status:` and
`Error Type:` in the newer format, which prints no separate "Task timed out"
line.
"""

from __future__ import annotations

import hashlib
import math
import platform

from lambdatop.runtime.records import InvocationRecord, InvocationStatus

_PLATFORM_STATUS = {
    InvocationStatus.TIMEOUT: "timeout",
    InvocationStatus.OUT_OF_MEMORY: "error",
    InvocationStatus.CRASHED: "error",
}


def billed_duration_ms(duration_ms: float, init_duration_ms: float | None) -> int:
    """ceil(Duration + Init Duration), on the two-decimal values printed (Init billed since Aug 2025)."""
    total = round(duration_ms, 2) + (round(init_duration_ms, 2) if init_duration_ms is not None else 0.0)
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
    status = _PLATFORM_STATUS.get(record.status)
    if init_failed:
        status = "error"
    if status == "timeout":
        line += "Status: timeout"
    elif status == "error":
        line += f"Status: error\tError Type: {record.error_type}"
    if traced and record.trace_id:
        line += f"\nXRAY TraceId: {record.trace_id}\tSegmentId: {record.segment_id}\tSampled: true\t"
    return line


def runtime_version(runtime: str, python_version: str | None = None) -> str:
    """What INIT_START names as the runtime version: the interpreter that really runs the code
    (`python_version`, "3.12.1", when it is not lambdatop's own), as Lambda's `python:3.12.v<release>`."""
    major, minor, micro = (python_version or platform.python_version()).split(".")[:3]
    return f"python:{major}.{minor}.v{micro}"


def init_start_line(runtime: str, region: str, python_version: str | None = None) -> str:
    version = runtime_version(runtime, python_version)
    digest = hashlib.sha256(version.encode()).hexdigest()
    return f"INIT_START Runtime Version: {version}\tRuntime Version ARN: arn:aws:lambda:{region}::runtime:{digest}"


def init_report_line(init_ms: float, phase: str, status: str, error_type: str | None = None) -> str:
    line = f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: {phase}\tStatus: {status}"
    if error_type:
        line += f"\tError Type: {error_type}"
    return line


def split_output(text: str) -> list[str]:
    """A worker's captured output as log lines."""
    if not text:
        return []
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
