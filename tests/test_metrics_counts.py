"""Metrics: counts equal the records, percentiles are within one histogram bucket of the exact value, EMF, cost."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable
from typing import Any

from lambdatop.runtime.apigateway.stats import RouteStats
from lambdatop.runtime.execution.stats import FunctionStats
from lambdatop.runtime.observability.cost import GB_SECOND_PRICE_USD, REQUEST_PRICE_USD
from lambdatop.runtime.errors import Throttled
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.metrics import FLEET, MetricSeries
from lambdatop.runtime.observability.samples import histogram_bounds, histogram_index
from lambdatop.runtime.observability.service import ObservabilityService
from lambdatop.runtime.records import InvocationRecord, InvocationStatus
from lambdatop.runtime.services import attach_store_services

WORK = """
import json, time

def handler(event, context):
    time.sleep(event.get("sleep_ms", 0) / 1000)
    if event.get("fail"):
        raise ValueError("asked to fail")
    print(json.dumps({"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [
        {"Namespace": "Shop", "Dimensions": [["service"]], "Metrics": [{"Name": "Orders", "Unit": "Count"}]}]},
        "service": "cart", "Orders": event.get("orders", 1)}))
    return {"slept": event.get("sleep_ms", 0)}
"""


def exact_percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def bucket_width(value: float) -> float:
    low, high = histogram_bounds(histogram_index(value))
    return high - low


async def test_counts_equal_the_records(make_project: Callable[..., Any]) -> None:
    config = make_project({"work": WORK, "narrow": WORK}, """
        functions:
          work: {handler: app.handler, code: work, timeout: 5}
          narrow: {handler: app.handler, code: narrow, timeout: 5, reserved_concurrency: 1, architecture: arm64}
    """)
    fleet = Fleet(config)
    obs = ObservabilityService()
    fleet.add_service(obs)
    records: list[InvocationRecord] = []
    async with fleet:
        async def one(function: str, event: dict[str, Any]) -> None:
            try:
                records.append((await fleet.invoke(function, event)).record)
            except Throttled as throttle:
                records.append(throttle.record)

        rng = random.Random(7)
        events = [("work", {"sleep_ms": rng.choice([0, 5, 20, 40]), "fail": i % 5 == 0, "orders": i}) for i in range(30)]
        events += [("narrow", {"sleep_ms": 150, "orders": 1}) for _ in range(4)]  # reserved 1: some are throttled
        await asyncio.gather(*(one(fn, ev) for fn, ev in events))
        obs.flush()  # every record is on the bus once its invoke returned; file them now, not at the next drain
        for name in ("work", "narrow", FLEET):
            mine = [r for r in records if name == FLEET or r.function == name]
            ran = [r for r in mine if r.status is not InvocationStatus.THROTTLED]
            totals = obs.metrics.series[name].totals
            assert totals["Invocations"].count == len(ran)
            assert totals["Errors"].total == sum(1 for r in ran if r.is_error)
            assert totals.get("Throttles") is None or totals["Throttles"].total == len(mine) - len(ran)
            assert totals["ColdStarts"].total == sum(1 for r in ran if r.cold_start)
            assert totals["Duration"].maximum == max(r.duration_ms for r in ran)
            for fraction in (0.5, 0.9, 0.99):
                exact = exact_percentile([r.duration_ms for r in ran], fraction)
                estimate = totals["Duration"].percentile(fraction)
                assert abs(estimate - exact) <= bucket_width(exact), (name, fraction, estimate, exact)
        throttled = [r for r in records if r.status is InvocationStatus.THROTTLED]
        assert throttled, "reserved concurrency 1 with 4 concurrent calls must throttle"
        assert obs.metrics.series["narrow"].totals["Throttles"].total == len(throttled)
        assert obs.metrics.fleet.totals["Throttles"].total == len(throttled)

        # The windowed view agrees with the totals over the last minute.
        snapshot = fleet.snapshot().metrics
        obs.tick(records[-1].ended_at + 0.5)
        summary = fleet.snapshot().metrics.functions["work"].minute
        assert summary.invocations == sum(1 for r in records if r.function == "work")
        assert snapshot is not None

        # EMF lines became a custom metric: one Orders datum per successful "work" invocation.
        orders = obs.metrics.series["work"].totals["Shop/Orders"]
        ok_orders = [e["orders"] for fn, e in events if fn == "work" and not e["fail"]]
        assert orders.count == len(ok_orders) and orders.total == sum(ok_orders)
        assert obs.metrics.series["work"].units["Shop/Orders"] == "Count"

        # Cost: requests and GB-seconds at the architecture's price (throttles are not billed).
        narrow = [r for r in records if r.function == "narrow" and r.status is not InvocationStatus.THROTTLED]
        cost = obs.metrics.series["narrow"].cost
        gb_s = sum(r.billed_duration_ms / 1000 * r.memory_size_mb / 1024 for r in narrow)
        assert cost.requests == len(narrow)
        assert math.isclose(cost.gb_seconds, gb_s)
        assert math.isclose(cost.total_usd, gb_s * GB_SECOND_PRICE_USD["arm64"] + len(narrow) * REQUEST_PRICE_USD)


def synthetic(function: str, ended_at: float, duration_ms: float, status: InvocationStatus = InvocationStatus.SUCCESS) -> InvocationRecord:
    return InvocationRecord(request_id=f"r{ended_at}-{duration_ms}", function=function, version="$LATEST", code_version="v1",
                            trigger="api", invocation_type="RequestResponse", started_at=ended_at - duration_ms / 1000,
                            ended_at=ended_at, duration_ms=duration_ms, billed_duration_ms=math.ceil(duration_ms), status=status)


def test_percentiles_within_one_bucket_of_brute_force_over_any_window() -> None:
    rng = random.Random(42)
    series = MetricSeries("fn")
    base = 1_800_000_000
    values: dict[int, list[float]] = {}
    for i in range(6000):
        second = base + i % 120
        duration = rng.lognormvariate(3.5, 1.2)  # ~33 ms median, a long tail
        values.setdefault(second, []).append(duration)
        series.add_record(synthetic("fn", second + 0.5, duration))
    for start, end in ((base, base + 120), (base + 10, base + 11), (base + 60, base + 90)):
        window = [v for s, vs in values.items() if start <= s < end for v in vs]
        for statistic, fraction in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)):
            exact = exact_percentile(window, fraction)
            estimate = series.statistic("Duration", statistic, start, end)
            assert estimate is not None and abs(estimate - exact) <= bucket_width(exact), (statistic, start, estimate, exact)
        assert series.statistic("Duration", "Maximum", start, end) == max(window)
        assert series.statistic("Invocations", "Sum", start, end) == len(window)
        assert math.isclose(series.statistic("Duration", "Average", start, end), sum(window) / len(window))
    assert series.statistic("Duration", "p99", base - 100, base - 50) is None  # no data, no datapoint
    # Long windows read the per-minute rollups plus the ragged edges in seconds: same answers.
    for start, end in ((base, base + 120), (base + 10, base + 150), (base - 30, base + 200)):
        window = [v for s, vs in values.items() if start <= s < end for v in vs]
        merged = series.merged(start, end)
        assert merged["Invocations"].count == len(window)
        assert math.isclose(merged["Duration"].total, sum(window))
        exact = exact_percentile(window, 0.99)
        assert abs(merged["Duration"].percentile(0.99) - exact) <= bucket_width(exact)


def test_buckets_are_kept_for_an_hour_and_then_dropped() -> None:
    series = MetricSeries("fn")
    now = 1_800_000_000.0
    series.add_record(synthetic("fn", now - 3700, 10))
    series.add_record(synthetic("fn", now - 5000, 10))
    series.add_record(synthetic("fn", now, 10))
    series.prune(now)
    assert series.statistic("Invocations", "Sum", now - 3600, now + 1) == 1
    assert series.statistic("Invocations", "Sum", now - 3800, now + 1) == 2  # 3,700 s old: inside the retention
    assert series.statistic("Invocations", "Sum", now - 6000, now + 1) == 2  # 5,000 s old: pruned
    assert series.totals["Invocations"].count == 3  # totals since start are never pruned


def test_every_live_percentile_is_the_same_nearest_rank_figure() -> None:
    """The function table, the APIs view and the CloudWatch-style series read the same samples alike.

    Before, the function table rounded an interpolated index and the APIs view truncated one, so the
    same ten durations showed three different p50s on three screens."""
    durations = [float(ms) for ms in (5, 1, 9, 3, 7, 2, 8, 4, 10, 6)]
    live = FunctionStats()
    route = RouteStats()
    series = MetricSeries("fn")
    for i, duration in enumerate(durations):
        live.add(synthetic("fn", 1_800_000_000 + i, duration))
        route.add(200, duration)
        series.add_record(synthetic("fn", 1_800_000_000 + i, duration))
    for fraction in (0.5, 0.9, 0.99):
        exact = exact_percentile(durations, fraction)
        assert live.percentile(fraction) == exact
        assert route.percentile(fraction) == exact
        merged = series.merged(1_800_000_000, 1_800_000_010)["Duration"].percentile(fraction)
        assert merged is not None and abs(merged - exact) <= bucket_width(exact)
    assert live.percentile(0.5) == 5.0  # nearest rank: the 5th of 10, not the mean of the 5th and 6th


async def test_the_async_queue_depth_and_event_age_are_metrics(make_project: Callable[..., Any]) -> None:
    """AsyncQueueDepth and AsyncEventAge come from the async queue's own view (Lambda's metrics of that name)."""
    config = make_project({"work": WORK}, """
        functions:
          work: {handler: app.handler, code: work, timeout: 5, reserved_concurrency: 1}
    """)
    fleet = Fleet(config)
    attach_store_services(fleet, adopt=False)
    obs = ObservabilityService()
    fleet.add_service(obs)
    async with fleet:
        for _ in range(4):
            await fleet.enqueue("work", b'{"sleep_ms": 300}')
        assert fleet.async_queue is not None
        deadline = time.monotonic() + 10
        while fleet.async_queue.snapshot()["work"].queue_depth < 2:
            assert time.monotonic() < deadline, "the events never queued up behind the one running"
            await asyncio.sleep(0.01)
        now = time.time()
        obs.tick(now)
        series = obs.metrics.series["work"]
        assert (series.statistic("AsyncQueueDepth", "Maximum", now - 1, now + 1) or 0) >= 2
        assert series.statistic("AsyncEventAge", "Maximum", now - 1, now + 1) is not None


async def test_the_table_and_the_metrics_read_one_per_second_record(make_project: Callable[..., Any]) -> None:
    """The main table's rates and concurrency sparkline come from the same series the metrics panel and the
    alarms read, filed by the fleet itself: no observability service runs here, and the figures still agree."""
    config = make_project({"work": WORK}, """
        functions:
          work: {handler: app.handler, code: work, timeout: 5}
    """)
    fleet = Fleet(config)
    async with fleet:
        await asyncio.gather(*(fleet.invoke("work", {"sleep_ms": 200, "fail": i < 2}) for i in range(4)))
        done = time.time()
    series = fleet.metrics.function("work")
    snapshot = fleet.snapshot()
    view = next(f for f in snapshot.functions if f.name == "work")
    assert series.totals["Invocations"].count == 4 and series.totals["Errors"].total == 2
    assert (view.invocations_per_s, view.errors_per_s) == (series.rate("Invocations", 5, snapshot.at),
                                                           series.rate("Errors", 5, snapshot.at))
    later = done + 1  # the rates average complete seconds: a moment after the burst, all of it counts
    assert (series.rate("Invocations", 5, later), series.rate("Errors", 5, later)) == (4 / 5, 2 / 5)
    peak = series.statistic("ConcurrentExecutions", "Maximum", done - 5, done + 1)
    assert peak == 4 and max(view.concurrency_history) == 4  # every acquire is a sample, the sparkline reads them
    assert fleet.metrics.fleet.totals["Invocations"].count == 4


def test_a_series_drops_what_falls_out_of_its_retention_without_a_timer() -> None:
    """Only the observability service used to prune, once a second: a fleet without it grew for ever."""
    series = MetricSeries("fn", retention_s=120)
    start = 1_800_000_000.0
    for minute in range(10):
        series.add_record(synthetic("fn", start + 60 * minute, 10))
    assert min(series.buckets) >= start + 9 * 60 - 120
    assert min(series.minutes) >= (start + 9 * 60 - 120) // 60
    assert series.totals["Invocations"].count == 10
