"""The runtime's log output: the logging handler, the [ERROR] event, LAMBDA_WARNING, in Text or JSON.

Each piece follows awslambdaric 4.2's code, cited by name:

- `bootstrap._setup_logging`: the root logger's one handler, Lambda's text
  format or `JsonFormatter` (AWS_LAMBDA_LOG_FORMAT=JSON), the level from
  AWS_LAMBDA_LOG_LEVEL (`TRACE` is DEBUG: `_get_log_level_from_env_var`; a
  name logging does not know leaves the level alone), and UTC timestamps for
  every formatter (`logging.Formatter.converter = time.gmtime`).
- `lambda_runtime_log_utils.JsonFormatter`: the JSON application record.
- `bootstrap.log_error`: an unhandled error as `[ERROR] Type: message`, the
  `Traceback (most recent call last):` line and the stack, leading spaces as
  U+00A0; in JSON, one object with `level`.

On Lambda the runtime writes each record as one frame to the telemetry fd,
so a multi-line record is one log event. Here output is one byte stream, so
a record's inner newlines are written as `\\r` (the runtime's own
separator when it writes to plain stdout: `StandardLogSink.log_error`), and
the supervisor turns them back into one multi-line event.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from typing import Any

from lambdatop.runtime.worker.messages import ErrorObject

ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"  # NO-BREAK SPACE, bootstrap.py's ERROR_LOG_IDENT
_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# lambda_literals.lambda_unhandled_exception_warning_message, logged with logging.warning at a failed Init.
INIT_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, in rare cases, "
    "a Lambda runtime update can cause unexpected function behavior. For functions using managed runtimes, runtime updates "
    "can be triggered by a function change, or can be applied automatically. To determine if the runtime has been updated, "
    "check the runtime version in the INIT_START log entry. If this error correlates with a change in the runtime version, "
    "you may be able to mitigate this error by temporarily rolling back to the previous runtime version. For more "
    "information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)
# lambda_runtime_log_utils._RESERVED_FIELDS: LogRecord attributes JsonFormatter does not copy into the record.
_RESERVED_FIELDS = frozenset({
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info", "exc_text",
    "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated", "thread", "threadName",
    "processName", "process", "aws_request_id", "tenant_id", "_frame_type",
})
# default=str as in 4.2: a value JSON cannot hold is written as its str() rather than losing the record.
_encode_json = json.JSONEncoder(ensure_ascii=False, default=str).encode


def log_format() -> str:
    """`JSON` or `Text`, as `LogFormat.from_str` reads AWS_LAMBDA_LOG_FORMAT (anything but json is Text)."""
    value = os.environ.get("AWS_LAMBDA_LOG_FORMAT")
    return "JSON" if value and value.upper() == "JSON" else "Text"


def log_level() -> str:
    """`_get_log_level_from_env_var`: TRACE is DEBUG, case-insensitively for everything else."""
    value = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    return {None: "", "TRACE": "DEBUG"}.get(value, value or "").upper()


class RequestIdFilter(logging.Filter):
    """bootstrap.LambdaLoggerFilter: every record carries the current request's id ("" during Init)."""

    request_id = ""
    tenant_id: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = RequestIdFilter.request_id
        record.tenant_id = RequestIdFilter.tenant_id
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S")


class JsonFormatter(logging.Formatter):
    """lambda_runtime_log_utils.JsonFormatter, field for field."""

    def __init__(self) -> None:
        super().__init__(datefmt=_DATETIME_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.levelno = min(50, max(0, record.levelno)) // 10 * 10
        record.levelname = logging.getLevelName(record.levelno)
        exc_info = record.exc_info
        result: dict[str, Any] = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": record.msg if isinstance(record.msg, dict) and not record.args else record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc_info[2]) if exc_info else None,
            "errorType": exc_info[0].__name__ if exc_info and exc_info[0] else None,
            "errorMessage": str(exc_info[1]) if exc_info else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": f"{record.pathname}:{record.funcName}:{record.lineno}" if exc_info else None,
        }
        tenant_id = getattr(record, "tenant_id", None)
        if tenant_id is not None:
            result["tenantId"] = tenant_id
        result.update((key, value) for key, value in record.__dict__.items() if key not in _RESERVED_FIELDS and key not in result)
        return _encode_json({k: v for k, v in result.items() if v is not None})


class EventHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Writes each record as one log event: its inner newlines become the runtime's `\\r` separator."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", ERROR_LOG_LINE_TERMINATE)


# Built when the zygote imports this module, so a cold start only installs them: building a handler in
# the new worker cost ~200 µs (copy-on-write faults). logging re-creates handler locks after a fork.
_TEXT_HANDLER = EventHandler(sys.stdout)
_TEXT_HANDLER.setFormatter(TextFormatter())
_TEXT_HANDLER.addFilter(RequestIdFilter())
_JSON_HANDLER = EventHandler(sys.stdout)
_JSON_HANDLER.setFormatter(JsonFormatter())
_JSON_HANDLER.addFilter(RequestIdFilter())


def install_logging() -> None:
    """bootstrap._setup_logging for this environment's AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL."""
    logging.Formatter.converter = time.gmtime
    root = logging.getLogger()
    handler = _JSON_HANDLER if log_format() == "JSON" else _TEXT_HANDLER
    handler.setStream(sys.stdout)
    root.handlers[:] = [handler]
    level = log_level()
    if level in logging._nameToLevel:
        root.setLevel(level)


def replace_line_indentation(line: str, indent_char: str, new_indent_char: str) -> str:
    count = len(line) - len(line.lstrip(indent_char))
    return new_indent_char * count + line[count:]


def log_error(error: ErrorObject, to_json: Any) -> None:
    """bootstrap.log_error: the unhandled error as one log event (`to_json` is the runtime's encoder)."""
    if log_format() == "JSON":
        record = {"timestamp": time.strftime(_DATETIME_FORMAT, time.gmtime(time.time())), "level": "ERROR", **error.as_dict()}
        sys.stdout.write(to_json(record).decode("utf-8") + "\n")
        return
    description = "[ERROR]"
    if error.error_type:
        description += " " + error.error_type
    if error.error_message:
        description += (":" if error.error_type else "") + " " + error.error_message
    lines = [description, "Traceback (most recent call last):"]
    for element in error.stack_trace:
        if element == "":
            lines.append("")
        else:
            lines.extend(replace_line_indentation(line, " ", ERROR_LOG_IDENT) for line in element.splitlines())
    # A message with newlines stays in the one event too (one telemetry frame on Lambda).
    sys.stdout.write(ERROR_LOG_LINE_TERMINATE.join(lines).replace("\n", ERROR_LOG_LINE_TERMINATE) + "\n")
