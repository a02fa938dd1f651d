"""Warm invoke, one at a time: the round trip through `Fleet.invoke` minus the handler's own time.

The handler is a no-op; its own time is the Duration the worker reports (the
span Lambda bills: event decode, the call, response encode). Overhead is
everything else: validation, the gate, the pool, ids, the socket round trip,
the freeze/thaw signals, the records, the log lines and the stats update.
"""

from __future__ import annotations

import time

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus


class WarmSamples:
    """Per-invocation round trips and reported Durations, in seconds."""

    def __init__(self) -> None:
        self.round_trips: list[float] = []
        self.overheads: list[float] = []

    def add(self, round_trip: float, duration_ms: float) -> None:
        self.round_trips.append(round_trip)
        self.overheads.append(round_trip - duration_ms / 1000)


async def sequential(fleet: Fleet, function: str, samples: int, warmup: int = 200) -> WarmSamples:
    """`samples` warm invocations of `function`, awaited one after the other."""
    event = b'{"n": 1}'
    measured = WarmSamples()
    perf = time.perf_counter
    for index in range(warmup + samples):
        begin = perf()
        result = await fleet.invoke(function, event)
        elapsed = perf() - begin
        record = result.record
        if record.status is not InvocationStatus.SUCCESS:
            raise RuntimeError(f"warm invoke of {function} failed: {record.error_type}: {record.error_message}")
        if index >= warmup:
            if record.cold_start:
                raise RuntimeError(f"{function}: a cold start during the warm run (env {record.env_id})")
            measured.add(elapsed, record.duration_ms)
    return measured
