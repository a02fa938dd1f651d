"""The concurrency gate: reserved concurrency and the account limit throttle with Lambda's reasons."""

from __future__ import annotations

import asyncio
import json

import pytest

from lambdatop.runtime.errors import Throttled
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult, InvocationStatus

SLEEPER = "import time\ndef handler(event, context):\n    time.sleep(event.get('s', 0.5))\n    return 'done'\n"


async def _fire(fleet: Fleet, function: str, count: int, event: dict) -> tuple[list[InvocationResult], list[Throttled]]:
    outcomes = await asyncio.gather(*(fleet.invoke(function, event) for _ in range(count)), return_exceptions=True)
    results = [o for o in outcomes if isinstance(o, InvocationResult)]
    throttles = [o for o in outcomes if isinstance(o, Throttled)]
    assert len(results) + len(throttles) == count, [o for o in outcomes if not isinstance(o, (InvocationResult, Throttled))]
    return results, throttles


async def test_reserved_concurrency_runs_exactly_r_and_throttles_the_rest(fleet: Fleet) -> None:
    results, throttles = await _fire(fleet, "slow", 8, {"sleep_ms": 500})  # slow has 5 reserved
    assert len(results) == 5 and all(r.record.status is InvocationStatus.SUCCESS for r in results)
    assert len(throttles) == 3
    throttle = throttles[0]
    assert throttle.status == 429 and throttle.code == "TooManyRequestsException"
    assert throttle.body() == {"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate Exceeded."}
    assert throttle.headers() == {"x-amzn-ErrorType": "TooManyRequestsException"}
    assert throttle.record.status is InvocationStatus.THROTTLED  # a throttle still leaves a record

    slow = next(f for f in fleet.snapshot().functions if f.name == "slow")
    assert slow.totals.throttles == 3 and slow.totals.invocations == 5 and slow.limit == 5


async def test_account_limit_throttles_with_the_account_reason(make_project) -> None:
    config = make_project({"a": SLEEPER, "b": SLEEPER}, """
        account: {concurrency_limit: 3}
        functions:
          a: {handler: app.handler, timeout: 5}
          b: {handler: app.handler, timeout: 5}
    """)
    async with Fleet(config) as fleet:
        outcomes = await asyncio.gather(
            *(fleet.invoke("a", {"s": 0.5}) for _ in range(2)),
            *(fleet.invoke("b", {"s": 0.5}) for _ in range(3)),
            return_exceptions=True,
        )
        throttles = [o for o in outcomes if isinstance(o, Throttled)]
        assert len(throttles) == 2
        assert {t.reason for t in throttles} == {"ConcurrentInvocationLimitExceeded"}
        assert fleet.gate.total_in_use == 0


async def test_reserved_concurrency_is_a_floor_as_well_as_a_ceiling(make_project) -> None:
    config = make_project({"greedy": SLEEPER, "reserved": SLEEPER}, """
        account: {concurrency_limit: 104}
        functions:
          greedy: {handler: app.handler, timeout: 5}
          reserved: {handler: app.handler, timeout: 5, reserved_concurrency: 4}
    """)
    async with Fleet(config) as fleet:
        # The 100 unreserved slots are filled by `greedy`; `reserved` still has its own 4.
        greedy = [asyncio.create_task(fleet.invoke("greedy", {"s": 1.5})) for _ in range(100)]
        for _ in range(1000):  # each takes its slot on its first step
            if fleet.gate.in_use.get("greedy", 0) == 100:
                break
            await asyncio.sleep(0.01)
        assert fleet.gate.in_use["greedy"] == 100
        with pytest.raises(Throttled) as caught:
            await fleet.invoke("greedy", {"s": 0})
        assert caught.value.reason == "ConcurrentInvocationLimitExceeded"
        reserved, throttles = await _fire(fleet, "reserved", 4, {"s": 0.1})
        assert len(reserved) == 4 and not throttles
        await asyncio.gather(*greedy)


async def test_reserved_zero_throttles_every_invocation(make_project) -> None:
    config = make_project({"off": SLEEPER}, "functions:\n  off: {handler: app.handler, reserved_concurrency: 0}\n")
    async with Fleet(config) as fleet:
        with pytest.raises(Throttled) as caught:
            await fleet.invoke("off", {})
        assert caught.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert json.loads(json.dumps(caught.value.body()))["Type"] == "User"
