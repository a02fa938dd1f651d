"""Lambda's retry rules for Event invocations, decided without a queue, a store or a clock (LAMBDA.md §8)."""

from __future__ import annotations

import pytest

from lambdatop.runtime.async_invoke.policy import Verdict, after_refusal, after_result, expired
from lambdatop.runtime.config.async_settings import AsyncSettings

NOW = 1_000_000.0
DEFAULTS = AsyncSettings()  # 2 retries, 6 hours


def test_a_success_settles() -> None:
    decision = after_result(succeeded=True, attempts=1, accepted_at=NOW, now=NOW, settings=DEFAULTS, scale=1.0)
    assert decision.verdict is Verdict.SETTLE


@pytest.mark.parametrize(("attempts", "delay"), [(1, 60.0), (2, 120.0)])
def test_a_function_error_is_retried_a_minute_then_two_minutes_later(attempts: int, delay: float) -> None:
    decision = after_result(succeeded=False, attempts=attempts, accepted_at=NOW, now=NOW, settings=DEFAULTS, scale=1.0,
                            error_type="KeyError", message="'x'")
    assert decision.verdict is Verdict.RETRY and decision.at == pytest.approx(NOW + delay)
    assert (decision.error_type, decision.message) == ("KeyError", "'x'")


def test_the_third_failure_exhausts_the_retries() -> None:
    decision = after_result(succeeded=False, attempts=3, accepted_at=NOW, now=NOW, settings=DEFAULTS, scale=1.0,
                            error_type="KeyError")
    assert (decision.verdict, decision.condition, decision.error_code) == (Verdict.FAIL, "RetriesExhausted", 200)


def test_no_retries_configured_fails_at_the_first_error() -> None:
    decision = after_result(succeeded=False, attempts=1, accepted_at=NOW, now=NOW,
                            settings=AsyncSettings(max_retry_attempts=0), scale=1.0)
    assert decision.condition == "RetriesExhausted"


def test_a_retry_that_would_land_past_the_maximum_age_fails_now_with_event_age_exceeded() -> None:
    settings = AsyncSettings(max_event_age_s=60)
    decision = after_result(succeeded=False, attempts=1, accepted_at=NOW, now=NOW + 1, settings=settings, scale=1.0)
    assert (decision.verdict, decision.condition) == (Verdict.FAIL, "EventAgeExceeded")


def test_throttles_back_off_exponentially_scaled() -> None:
    ats = [after_refusal(throttles=n, accepted_at=NOW, now=NOW, settings=DEFAULTS, scale=0.01,
                         error_type="TooManyRequestsException", message="Rate Exceeded.").at for n in (1, 2, 3, 10)]
    assert ats == pytest.approx([NOW + 0.01, NOW + 0.02, NOW + 0.04, NOW + 3.0])


def test_reserved_concurrency_zero_fails_at_once_without_retries() -> None:
    decision = after_refusal(throttles=1, accepted_at=NOW, now=NOW, settings=DEFAULTS, scale=1.0,
                             error_type="TooManyRequestsException", message="Rate Exceeded.", zero_reserved=True)
    assert (decision.verdict, decision.condition, decision.error_code) == (Verdict.FAIL, "ZeroReservedConcurrency", 429)


def test_a_throttle_past_the_maximum_age_fails_with_429_a_system_error_with_500() -> None:
    settings = AsyncSettings(max_event_age_s=60)
    old = NOW - 60
    throttled = after_refusal(throttles=1, accepted_at=old, now=NOW, settings=settings, scale=1.0,
                              error_type="TooManyRequestsException", message="Rate Exceeded.")
    broken = after_refusal(throttles=1, accepted_at=old, now=NOW, settings=settings, scale=1.0,
                           error_type="OSError", message="disk full")
    assert (throttled.condition, throttled.error_code) == ("EventAgeExceeded", 429)
    assert (broken.condition, broken.error_code) == ("EventAgeExceeded", 500)


def test_an_event_that_waited_too_long_fails_before_it_runs() -> None:
    assert expired(NOW, NOW + 59, AsyncSettings(max_event_age_s=60)) is None
    decision = expired(NOW, NOW + 61, AsyncSettings(max_event_age_s=60))
    assert decision is not None and (decision.condition, decision.error_type) == ("EventAgeExceeded", "EventAgeExceeded")
