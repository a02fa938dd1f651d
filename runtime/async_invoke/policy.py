"""Lambda's retry rules for asynchronous invocations, as pure decisions (LAMBDA.md §8).

Given what became of one delivery attempt, `after_result` and `after_refusal`
say what happens to the event next: settle it as delivered, try again at a
given time, or fail it for good with a condition. No I/O, no clock of its own
(the caller passes `now`), so every rule is testable on its own.

- A function error is retried MaximumRetryAttempts times (0-2), about 1 min
  then 2 min later, times `delay_scale`.
- A throttle or a system error goes back on the queue with exponential
  back-off, 1 s doubling to 5 min (times `delay_scale`).
- Either way, an event older than MaximumEventAgeInSeconds fails with
  `EventAgeExceeded`; reserved concurrency 0 fails at once
  (`ZeroReservedConcurrency`), with no retries.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lambdatop.runtime.async_invoke.destinations import Condition
from lambdatop.runtime.config.async_settings import AsyncSettings

FUNCTION_ERROR_DELAYS_S = (60.0, 120.0)  # before the 1st and 2nd retry
THROTTLE_BACKOFF_MAX_S = 300.0


class Verdict(enum.Enum):
    SETTLE = "settle"  # delivered: on to the on-success destination
    RETRY = "retry"  # back on the queue until `at`
    FAIL = "fail"  # failed for good: on-failure destination, DLQ, dead letters


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to an event after one attempt."""

    verdict: Verdict
    at: float | None = None  # RETRY: when the next attempt is due
    condition: str | None = None  # FAIL: the invocation record's requestContext.condition
    error_code: int = 200  # FAIL: the DLQ's ErrorCode attribute (the HTTP status)
    error_type: str | None = None
    message: str | None = None


def function_error_delay(retry: int, scale: float) -> float:
    """Seconds before function-error retry number `retry` (1 or 2)."""
    return FUNCTION_ERROR_DELAYS_S[min(retry, len(FUNCTION_ERROR_DELAYS_S)) - 1] * scale


def throttle_delay(throttles: int, scale: float) -> float:
    """Seconds before the next try after `throttles` throttles or system errors in a row: 1, 2, 4 ... 300, scaled."""
    return min(2.0 ** (throttles - 1), THROTTLE_BACKOFF_MAX_S) * scale


def too_old(accepted_at: float, at: float, settings: AsyncSettings) -> bool:
    """Whether an event accepted at `accepted_at` is past its maximum age at `at`."""
    return at > accepted_at + settings.max_event_age_s


def expired(accepted_at: float, now: float, settings: AsyncSettings) -> Decision | None:
    """Before a delivery: an event that waited longer than its maximum age fails without running."""
    if not too_old(accepted_at, now, settings):
        return None
    return Decision(Verdict.FAIL, condition=Condition.EVENT_AGE_EXCEEDED, error_code=500, error_type="EventAgeExceeded",
                    message=f"the event is older than MaximumEventAgeInSeconds ({settings.max_event_age_s} s)")


def after_result(
    *, succeeded: bool, attempts: int, accepted_at: float, now: float, settings: AsyncSettings, scale: float,
    error_type: str | None = None, message: str | None = None,
) -> Decision:
    """After the function ran (`attempts` counts this run): settle, retry a function error, or give up."""
    if succeeded:
        return Decision(Verdict.SETTLE)
    if attempts > settings.max_retry_attempts:
        return Decision(Verdict.FAIL, condition=Condition.RETRIES_EXHAUSTED, error_type=error_type, message=message)
    at = now + function_error_delay(attempts, scale)
    if too_old(accepted_at, at, settings):
        return Decision(Verdict.FAIL, condition=Condition.EVENT_AGE_EXCEEDED, error_type=error_type, message=message)
    return Decision(Verdict.RETRY, at=at, error_type=error_type, message=message)


def after_refusal(
    *, throttles: int, accepted_at: float, now: float, settings: AsyncSettings, scale: float, error_type: str,
    message: str, zero_reserved: bool = False,
) -> Decision:
    """After a throttle or a system error (`throttles` counts this one in a row): back off, or give up."""
    if zero_reserved:
        return Decision(Verdict.FAIL, condition=Condition.ZERO_RESERVED_CONCURRENCY, error_code=429,
                        error_type=error_type, message=message)
    at = now + throttle_delay(throttles, scale)
    if too_old(accepted_at, at, settings):
        return Decision(Verdict.FAIL, condition=Condition.EVENT_AGE_EXCEEDED,
                        error_code=429 if "TooMany" in error_type else 500, error_type=error_type, message=message)
    return Decision(Verdict.RETRY, at=at, error_type=error_type, message=message)
