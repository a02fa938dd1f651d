"""Finding the user's handler and describing its failures in Lambda's shapes.

Runs in the worker: `load_handler` is the Init phase's import, `FaultError`
carries the runtime's own error types (Runtime.ImportModuleError and
friends), and `exception_object` turns any exception into Lambda's error
object, cut to a size the wire carries.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from lambdatop.runtime.worker.messages import ErrorObject, InitProblem

Handler = Callable[[Any, Any], Any]

# An error's message and stack are cut to this many characters each, so the error object (JSON,
# up to 6 bytes a character) stays under the response limit and its frame under the wire's.
ERROR_TEXT_LIMIT = 256 * 1024
_TRUNCATED = " [truncated by lambdatop]"
# Frames of the worker's own machinery, cut from the top of a user's traceback as the RIC cuts its own.
_RUNTIME_FILES = frozenset({__file__, os.path.join(os.path.dirname(__file__), "runtime.py")})


class FaultError(Exception):
    """A runtime fault with a Lambda error type (Runtime.ImportModuleError and friends)."""

    def __init__(self, error_type: str, message: str, stack: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack or []


def error_object(error_type: str, message: str, stack: list[str], request_id: str) -> ErrorObject:
    if len(message) > ERROR_TEXT_LIMIT:
        message = message[:ERROR_TEXT_LIMIT] + _TRUNCATED
    kept: list[str] = []
    budget = ERROR_TEXT_LIMIT
    for element in reversed(stack):  # the innermost frames, where the error is
        if len(element) > budget:
            break
        kept.insert(0, element)
        budget -= len(element)
    return ErrorObject(error_type, message, tuple(kept), request_id)


def exception_object(exc: BaseException, request_id: str) -> ErrorObject:
    if isinstance(exc, FaultError):
        return error_object(exc.error_type, exc.message, exc.stack, request_id)
    return error_object(type(exc).__name__, str(exc), _user_stack(exc.__traceback__), request_id)


def _user_stack(tb: Any) -> list[str]:
    """The traceback as the RIC gives it: the worker's own frames cut from the top.

    The frames go to format_list as plain (file, line, name, text) tuples, as
    bootstrap.extract_traceback hands them over: a tuple has no column
    offsets, so Python 3.11+ prints no `^^^^` caret lines under them.
    """
    frames = list(traceback.extract_tb(tb))
    while frames and frames[0].filename in _RUNTIME_FILES:
        del frames[0]
    return traceback.format_list([(f.filename, f.lineno, f.name, f.line) for f in frames])  # type: ignore[misc]


def load_handler(handler: str) -> Handler:
    """Import the handler's module and find the function, raising Lambda's fault types."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}") from exc
    module_path = module_name.replace("/", ".")
    if module_path.split(".")[0] in sys.builtin_module_names:
        raise FaultError("Runtime.BuiltInModuleConflict", f"Cannot use built-in module {module_name} as a handler module")
    try:
        module = importlib.import_module(module_path)
    except SyntaxError as exc:
        # bootstrap._get_handler's own format: the line as Python read it, indentation and newline kept.
        stack = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise FaultError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", stack) from exc
    except ImportError as exc:
        raise FaultError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from exc
    try:
        function: Handler = getattr(module, function_name)
    except AttributeError as exc:
        # An Init error since awslambdaric 2.1 (bootstrap._get_handler raises it; older clients
        # answered it on every invoke instead).
        raise FaultError("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'") from exc
    return function


def diagnose_init(exc: BaseException | None, handler: Any, handler_name: str, code_roots: tuple[str, ...]) -> InitProblem | None:
    """Why this environment cannot serve, and where in the user's code: for hot reload's broken-code notice.

    Lambda's error objects keep their shape (an ImportModuleError carries no
    stack), so the file and line travel beside them, read from the real
    traceback: a SyntaxError's own location, else the deepest frame in the
    function's code folder or layers (`code_roots`); for a missing handler, the module's file.
    """
    if exc is None:
        return None
    if isinstance(exc, FaultError) and exc.error_type == "Runtime.HandlerNotFound":
        module = sys.modules.get(handler_name.rsplit(".", 1)[0].replace("/", "."))
        return InitProblem(exc.error_type, _cut(exc.message), getattr(module, "__file__", None), None)
    error_type = exc.error_type if isinstance(exc, FaultError) else type(exc).__name__
    message = _cut(exc.message if isinstance(exc, FaultError) else str(exc))
    cause = exc.__cause__ if isinstance(exc, FaultError) and exc.__cause__ is not None else exc
    if isinstance(cause, SyntaxError):
        return InitProblem(error_type, message, cause.filename, cause.lineno)
    roots = tuple(os.path.join(root, "") for root in code_roots)
    file = line = None
    for frame in traceback.extract_tb(cause.__traceback__):
        if frame.filename.startswith(roots):
            file, line = frame.filename, frame.lineno
    return InitProblem(error_type, message, file, line)


def _cut(text: str) -> str:
    return text[:ERROR_TEXT_LIMIT] + _TRUNCATED if len(text) > ERROR_TEXT_LIMIT else text
