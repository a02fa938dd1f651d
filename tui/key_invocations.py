"""What the invoking keys run (i, b, a and the palette's "Invoke …"), each in a Textual worker.

Throttles, function errors and Lambda service errors come back as
notifications, never as exceptions: a key never takes the dashboard down.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from lambdatop.runtime.errors import LambdaServiceError, Throttled
from lambdatop.runtime.records import InvocationResult, InvocationStatus, Trigger
from lambdatop.tui.widgets.cells import STATUS_LABEL, ms

if TYPE_CHECKING:
    from lambdatop.tui.app import LambdatopApp

NOTIFY_S = 3.0  # short: on a small terminal a toast covers part of the stream


class KeyInvocations:
    """The invocations the app's keys start, reported as toasts."""

    def __init__(self, app: LambdatopApp) -> None:
        self.app = app

    async def invoke_one(self, function: str, payload: bytes) -> InvocationResult | None:
        """One synchronous invocation; its outcome as a toast."""
        try:
            result = await self.app.fleet.invoke(function, payload, trigger=Trigger.KEY)
        except Throttled as exc:
            self.app.notify(f"{function}: throttled: {exc.message}", title="TooManyRequestsException", severity="warning")
            return None
        except LambdaServiceError as exc:
            self.app.notify(f"{function}: {exc.message}", title=exc.code, severity="error")
            return None
        except Exception as exc:  # noqa: BLE001 - keys never crash the dashboard
            self.app.notify(f"{function}: {type(exc).__name__}: {exc}", severity="error")
            return None
        self.app.notify(describe(result), title=function, severity="error" if result.record.is_error else "information",
                    timeout=NOTIFY_S)
        return result

    async def burst(self, function: str, payload: bytes, count: int) -> dict[str, int]:
        """`count` invocations at once; one toast counts the outcomes (how many throttled)."""
        outcomes = await asyncio.gather(
            *(self.app.fleet.invoke(function, payload, trigger=Trigger.KEY) for _ in range(count)), return_exceptions=True,
        )
        summary: dict[str, int] = {}
        for outcome in outcomes:
            if isinstance(outcome, InvocationResult):
                key = STATUS_LABEL.get(outcome.record.status, str(outcome.record.status))
            elif isinstance(outcome, Throttled):
                key = "throttled"
            elif isinstance(outcome, LambdaServiceError):
                key = outcome.code
            else:
                key = type(outcome).__name__
            summary[key] = summary.get(key, 0) + 1
        parts = ", ".join(f"{n} {k}" for k, n in sorted(summary.items(), key=lambda kv: -kv[1]))
        throttled = summary.get("throttled", 0)
        self.app.notify(f"burst of {count}: {parts}", title=function, severity="warning" if throttled else "information")
        return summary

    async def invoke_async(self, function: str, payload: bytes) -> None:
        """Accept an Event invocation (202): the async queue delivers and retries it; its attempts show as rows."""
        try:
            request_id = await self.app.fleet.enqueue(function, payload, trigger=Trigger.KEY)
            self.app.notify(f"{function}: accepted (202), queued as {request_id}", title="async")
        except Throttled as exc:
            self.app.notify(f"{function}: throttled: {exc.message}", title="TooManyRequestsException", severity="warning")
        except LambdaServiceError as exc:
            self.app.notify(f"{function}: {exc.message}", title=exc.code, severity="error")
        except Exception as exc:  # noqa: BLE001 - keys never crash the dashboard
            self.app.notify(f"{function}: {type(exc).__name__}: {exc}", severity="error")


def describe(result: InvocationResult) -> str:
    """An outcome in a few words: `error in 4.36ms (cold): KeyError: 'action'`."""
    record = result.record
    start = "cold" if record.cold_start else "warm"
    text = f"{STATUS_LABEL.get(record.status, record.status)} in {ms(record.duration_ms)} ({start})"
    if record.status is not InvocationStatus.SUCCESS and record.error_type:
        text += f": {record.error_type}: {record.error_message or ''}"
    return text


def pretty_json(payload: bytes) -> str:
    """A payload indented for the editor (as it is, when it is not JSON)."""
    try:
        return json.dumps(json.loads(payload), indent=2)
    except ValueError:
        return payload.decode("utf-8", "replace")
