"""The Invoke API over loopback, as `lambdatop serve` runs it, against a raw aiohttp server in the same run.

lambdatop runs with the services `serve` starts by default (the store, traces
and metrics, the watcher, the endpoint; not the AWS sidecar, which no Invoke
touches). The floor is a bare aiohttp app answering the same path in its own
process. Both get the same clients (tui/bench/http_peers.py): real boto3
callers (1, 8, 32 and 128 of them; 1 and 8 with `--quick`) and a lean client
replaying boto3's bytes over keep-alive sockets. Server CPU per call counts
the whole process tree (supervisor, zygote, workers), not the clients. Last,
8 boto3 callers with the dashboard open over the same fleet (as `lambdatop`
runs it: the dashboard, the fleet and the endpoint share one event loop),
beside the same load without it, just before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.services import ServiceOptions, attach_standard_services
from lambdatop.tui.bench.capability import missing
from lambdatop.tui.bench.http_peers import Load, RawServer, boto3_load, lean_load
from lambdatop.tui.bench.results import Figure, latency
from lambdatop.tui.bench.ui import dashboard_open

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext

P50_TARGET = 1.3  # boto3 p50, one caller: ≤ 1.3× raw
RATE_TARGET = 0.8  # boto3 callers' throughput: ≥ 0.8× raw
LEAN_TARGET = 0.4  # lean client at 8 connections: ≥ 0.4× raw
CPU_TARGET = 2.0  # server CPU per call: ≤ 2× raw
P99_TARGET = 1.5  # p99 at the most callers: ≤ 1.5× raw
DASHBOARD_TARGET = 0.85  # boto3 callers' throughput with the dashboard open: ≥ 0.85× without it
DASHBOARD_CALLERS = 8
LEAN_CONNECTIONS = 8
SERVED_AS = "serve's default services (store, traces, metrics, watcher, endpoint)"


async def run(ctx: BenchContext) -> list[Figure]:
    callers = (1, 8) if ctx.quick else (1, 8, 32, 128)
    seconds = ctx.budget.http_s
    fleet = Fleet(ctx.project.config_path)
    attach_standard_services(fleet, ServiceOptions(port=0, aws=False))
    ours: dict[str, Load] = {}
    raw: dict[str, Load] = {}
    async with RawServer() as floor:
        # Interleaved, one server at a time, so both see the same machine minute by minute.
        async with fleet:
            url = fleet.endpoint or ""
            for n in callers:
                ours[f"boto3 {n}"] = await boto3_load(url, n, seconds)
                raw[f"boto3 {n}"] = await boto3_load(floor.url, n, seconds, floor.processes())
            ours["lean"] = await lean_load(url, LEAN_CONNECTIONS, seconds)
            raw["lean"] = await lean_load(floor.url, LEAN_CONNECTIONS, seconds, floor.processes())
            without = await boto3_load(url, DASHBOARD_CALLERS, seconds)
            with_dashboard = await _with_dashboard(fleet, lambda: boto3_load(url, DASHBOARD_CALLERS, seconds))
    return [*_figures(ours, raw, callers), _dashboard_figure(without, with_dashboard)]


async def _with_dashboard(fleet: Fleet, load: Callable[[], Awaitable[Load]]) -> Load | str:
    """`load` run with the dashboard open over `fleet`; why not, if it cannot be."""
    absent = missing("lambdatop.tui.app", "LambdatopApp")
    if absent:
        return absent
    async with dashboard_open(fleet):
        return await load()


def _dashboard_figure(without: Load, with_dashboard: Load | str) -> Figure:
    label = f"boto3 rate, {DASHBOARD_CALLERS} callers, dashboard open"
    if isinstance(with_dashboard, str):
        return Figure("http", label, "inv/s", skipped=with_dashboard)
    return Figure("http", label, "inv/s", value=with_dashboard.rate, samples=with_dashboard.calls,
                  note="Textual headless (run_test), 160×48, in the fleet's own event loop, as `lambdatop` runs it; "
                       "the baseline is the same load without it, just before").judge(
        "same load, no dashboard", without.rate, f"≥ {DASHBOARD_TARGET}× without", DASHBOARD_TARGET, at_least=True)


def _figures(ours: dict[str, Load], raw: dict[str, Load], callers: tuple[int, ...]) -> list[Figure]:
    one, floor_one = ours["boto3 1"], raw["boto3 1"]
    p50 = latency("http", "boto3 invoke, one caller", one.samples, unit="ms", note=f"lambdatop with {SERVED_AS}")
    floor_p50 = latency("http", "boto3 invoke, one caller", floor_one.samples, unit="ms")
    figures = [p50.judge("raw aiohttp", floor_p50.p50, f"p50 ≤ {P50_TARGET}× raw", P50_TARGET)]
    for n in callers:
        load, floor = ours[f"boto3 {n}"], raw[f"boto3 {n}"]
        figures.append(Figure("http", f"boto3 rate, {n} caller{'s' if n > 1 else ''}", "inv/s", value=load.rate,
                              samples=load.calls).judge("raw aiohttp", floor.rate, f"≥ {RATE_TARGET}× raw", RATE_TARGET, at_least=True))
    most, floor_most = ours[f"boto3 {callers[-1]}"], raw[f"boto3 {callers[-1]}"]
    p99, floor_p99 = latency("http", "", most.samples, unit="ms").p99, latency("http", "", floor_most.samples, unit="ms").p99
    figures.append(Figure("http", f"boto3 p99, {callers[-1]} callers", "ms", value=p99, samples=most.calls).judge(
        "raw aiohttp", floor_p99, f"≤ {P99_TARGET}× raw", P99_TARGET))
    eight, floor_eight = ours["boto3 8"], raw["boto3 8"]
    figures.append(Figure("http", "server CPU per call, 8 boto3 callers", "µs", value=eight.cpu_per_call_us, samples=eight.calls,
                          note="user + system CPU of the supervisor, zygote and workers over the run, per call").judge(
        "raw aiohttp", floor_eight.cpu_per_call_us, f"≤ {CPU_TARGET}× raw", CPU_TARGET))
    lean, floor_lean = ours["lean"], raw["lean"]
    figures.append(Figure("http", f"lean client rate, {LEAN_CONNECTIONS} connections", "inv/s", value=lean.rate,
                          samples=lean.calls, note="boto3's request bytes replayed over keep-alive sockets: no client cost").judge(
        "raw aiohttp", floor_lean.rate, f"≥ {LEAN_TARGET}× raw", LEAN_TARGET, at_least=True))
    figures.append(Figure("http", f"server CPU per call, lean client, {LEAN_CONNECTIONS} connections", "µs",
                          value=lean.cpu_per_call_us, samples=lean.calls).judge(
        "raw aiohttp", floor_lean.cpu_per_call_us, f"≤ {CPU_TARGET}× raw", CPU_TARGET))
    return figures
