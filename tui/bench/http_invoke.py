"""The Invoke API over loopback with a real boto3 client, beside `Fleet.invoke` in the same run.

The endpoint runs as `lambdatop serve` runs it (a fleet service on the
supervisor's loop). The boto3 clients run in separate processes, as a user's
program would: one client one call at a time for latency, then several
threads in two processes for the rate. Both figures are judged against
`Fleet.invoke` measured the same way on the same fleet.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from lambdatop.runtime.fleet import Fleet
from lambdatop.tui.bench.capability import missing
from lambdatop.tui.bench.child import run_python
from lambdatop.tui.bench.results import Figure, latency
from lambdatop.tui.bench.throughput import sustained
from lambdatop.tui.bench.warm import sequential

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext

CLIENT_PROCESSES = 2
THREADS_PER_CLIENT = 4

_CLIENT = r"""
import json, sys, threading, time
import boto3
from botocore.config import Config
url, function, mode, amount, threads = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
def client():
    return boto3.client("lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench", config=Config(retries={"max_attempts": 0}, max_pool_connections=threads + 2))
def call(c):
    response = c.invoke(FunctionName=function, Payload=b'{"n": 1}')
    body = response["Payload"].read()
    if response["StatusCode"] != 200 or "FunctionError" in response or body != b"null":
        raise SystemExit(f"bad response: {response['StatusCode']} {body[:200]!r}")
if mode == "latency":
    c = client()
    for _ in range(50):
        call(c)
    samples = []
    for _ in range(int(amount)):
        begin = time.perf_counter()
        call(c)
        samples.append(time.perf_counter() - begin)
    print(json.dumps({"samples": samples}))
else:
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    stop_at = [0.0]
    def lane(i):
        c = client()
        call(c)
        start.wait()
        while time.perf_counter() < stop_at[0]:
            call(c)
            counts[i] += 1
    workers = [threading.Thread(target=lane, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    stop_at[0] = time.perf_counter() + 3600
    start.wait()
    begin = time.perf_counter()
    stop_at[0] = begin + amount
    for w in workers:
        w.join()
    print(json.dumps({"calls": sum(counts), "elapsed": time.perf_counter() - begin}))
"""


async def _client(url: str, mode: str, amount: float, threads: int) -> dict:
    return await run_python("-c", _CLIENT, url, "noop", mode, str(amount), str(threads), what="boto3 client")


async def run(ctx: BenchContext) -> list[Figure]:
    absent = missing("lambdatop.runtime.services", "attach_endpoint")
    if absent:
        return [Figure("http", "boto3 invoke, one at a time", "µs", skipped=absent)]
    from lambdatop.runtime.services import attach_endpoint

    fleet = Fleet(ctx.project.config_path)
    attach_endpoint(fleet, "127.0.0.1", 0)
    budget = ctx.budget
    async with fleet:
        direct = await sequential(fleet, "noop", budget.http_samples)
        measured = await _client(fleet.endpoint or "", "latency", budget.http_samples, 1)
        direct_rate = await sustained(fleet, "noop", budget.http_s)
        rates = await asyncio.gather(*(
            _client(fleet.endpoint or "", "rate", budget.http_s, THREADS_PER_CLIENT) for _ in range(CLIENT_PROCESSES)
        ))
    calls = sum(r["calls"] for r in rates)
    elapsed = max(r["elapsed"] for r in rates)
    direct_latency = latency("http", "Fleet.invoke, one at a time", direct.round_trips)
    http_latency = latency("http", "boto3 invoke over loopback, one at a time", measured["samples"])
    http_latency.judge("Fleet.invoke", direct_latency.p50, "report ratio", None)
    rate = Figure(
        "http", "boto3 invoke rate", "inv/s", value=calls / elapsed, samples=calls,
        note=f"{CLIENT_PROCESSES} client processes × {THREADS_PER_CLIENT} threads, sharing the 2 cores with lambdatop",
    )
    rate.judge("Fleet.invoke", direct_rate.rate, "report ratio", None)
    return [
        direct_latency, http_latency,
        Figure("http", "Fleet.invoke rate", "inv/s", value=direct_rate.rate, samples=direct_rate.records), rate,
    ]
