"""How a log line is shown: Lambda's own lines and errors stand out, in the Text format and in JSON.

With LoggingConfig's JSON format the platform's lines are `{"time", "type":
"platform.…", "record"}` objects and the runtime's records carry a `level`;
with Text they are START/END/REPORT/INIT_* lines and `[LEVEL]` prefixes. One
place decides, so the invocation screen and the dashboard's peek agree.
"""

from __future__ import annotations

import json
from typing import Any

_ERROR_LEVELS = frozenset({"ERROR", "FATAL", "CRITICAL"})


def _json_object(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def line_style(line: str) -> str:
    """A Rich style for one log line (event): "" for the function's ordinary output."""
    if line.startswith("REPORT "):
        return "bold cyan"
    if line.startswith(("START ", "END ", "INIT_START ")):
        return "dim cyan"
    record = _json_object(line) if line.startswith("{") else None
    if record is not None:
        kind = str(record.get("type", ""))
        if kind == "platform.report":
            return "bold red" if record.get("record", {}).get("status") not in (None, "success") else "bold cyan"
        if kind.startswith("platform."):
            return "dim cyan"
        return "red" if str(record.get("level", "")).upper() in _ERROR_LEVELS else ""
    if "Task timed out" in line or "Error" in line or "Traceback" in line:
        return "red"
    return ""
