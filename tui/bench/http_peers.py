"""The HTTP scenario's processes: a raw aiohttp server (the floor), a boto3 client and a lean client.

Each runs as its own Python process, as a user's program and a minimal server
would: the bench's process holds lambdatop's supervisor, so a client inside it
would share its GIL. The raw server answers the Invoke API's path with what a
no-op function returns, so the same clients can be pointed at either.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any

import psutil
from lambdatop.tui.bench.child import run_python

CLIENT_MARK = "# lambdatop-bench-http-client"  # in every client's command line, to leave them out of server CPU
CLIENT_PROCESSES = 2  # boto3 callers are spread over two processes (threads in one would share its GIL)

RAW_SERVER = r"""
import asyncio, sys
from aiohttp import web
async def invoke(request):
    await request.read()
    return web.Response(body=b"null", content_type="application/json",
                        headers={"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": "00000000-0000-0000-0000-000000000000"})
async def main():
    app = web.Application()
    app.router.add_post("/2015-03-31/functions/{name}/invocations", invoke)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the bench closes our stdin
asyncio.run(main())
"""

BOTO3_CLIENT = CLIENT_MARK + r"""
import json, sys, threading, time
import boto3
from botocore.config import Config
url, function, seconds, threads = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
def client():
    return boto3.client("lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench", config=Config(retries={"max_attempts": 0}, max_pool_connections=threads + 2))
def call(c):
    response = c.invoke(FunctionName=function, Payload=b'{"n": 1}')
    body = response["Payload"].read()
    if response["StatusCode"] != 200 or "FunctionError" in response or body != b"null":
        raise SystemExit(f"bad response: {response['StatusCode']} {body[:200]!r}")
samples = [[] for _ in range(threads)]
start = threading.Barrier(threads + 1)
stop_at = [time.perf_counter() + 3600]
def lane(i):
    c = client()
    for _ in range(20):
        call(c)
    start.wait()
    perf = time.perf_counter
    while (begin := perf()) < stop_at[0]:
        call(c)
        samples[i].append(perf() - begin)
workers = [threading.Thread(target=lane, args=(i,)) for i in range(threads)]
for w in workers:
    w.start()
start.wait()
begin = time.perf_counter()
stop_at[0] = begin + seconds
for w in workers:
    w.join()
print(json.dumps({"samples": [s for lane in samples for s in lane], "elapsed": time.perf_counter() - begin}))
"""

# boto3's own Invoke request for a 8-byte payload, byte for byte as botocore sends it (SigV4 headers and all),
# replayed over keep-alive sockets: what the server costs without the client's Python in the way.
LEAN_CLIENT = CLIENT_MARK + r"""
import asyncio, json, sys, time
host, port, function, seconds, connections = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
body = b'{"n": 1}'
request = (
    f"POST /2015-03-31/functions/{function}/invocations HTTP/1.1\r\nHost: {host}:{port}\r\n"
    "Accept-Encoding: identity\r\nUser-Agent: Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux lang/python#3.11 cfg/retry-mode#legacy\r\n"
    "X-Amz-Date: 20261201T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential=bench/20261201/us-east-1/lambda/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64 + "\r\n"
    f"amz-sdk-invocation-id: 00000000-0000-0000-0000-000000000000\r\namz-sdk-request: attempt=1\r\nContent-Length: {len(body)}\r\n\r\n"
).encode() + body
async def lane(stop_at, samples):
    reader, writer = await asyncio.open_connection(host, port)
    perf = time.perf_counter
    while (begin := perf()) < stop_at:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        if not head.startswith(b"HTTP/1.1 200") or await reader.readexactly(length) != b"null":
            raise SystemExit(f"bad response: {head[:200]!r}")
        samples.append(perf() - begin)
    writer.close()
async def main():
    warm = []
    await asyncio.gather(*(lane(time.perf_counter() + 0.2, warm) for _ in range(connections)))
    samples = []
    begin = time.perf_counter()
    await asyncio.gather(*(lane(begin + seconds, samples) for _ in range(connections)))
    print(json.dumps({"samples": samples, "elapsed": time.perf_counter() - begin}))
asyncio.run(main())
"""


@dataclass(slots=True)
class Load:
    """What one load run did: per-call latencies (s), calls, seconds, and the server's CPU seconds meanwhile."""

    samples: list[float]
    elapsed_s: float
    server_cpu_s: float

    @property
    def calls(self) -> int:
        return len(self.samples)

    @property
    def rate(self) -> float:
        return self.calls / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def cpu_per_call_us(self) -> float | None:
        return self.server_cpu_s / self.calls * 1e6 if self.calls else None


class RawServer:
    """The floor: a bare aiohttp app answering the Invoke API path, in its own process."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""

    async def __aenter__(self) -> RawServer:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RAW_SERVER, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        port = int(await asyncio.wait_for(self.process.stdout.readline(), 30))
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    def processes(self) -> list[psutil.Process]:
        assert self.process is not None
        return [psutil.Process(self.process.pid)]


async def boto3_load(url: str, callers: int, seconds: float, server: list[psutil.Process] | None = None) -> Load:
    """`callers` boto3 clients calling back to back for `seconds` (over CLIENT_PROCESSES processes)."""
    processes = min(CLIENT_PROCESSES, callers)
    shares = [callers // processes + (1 if i < callers % processes else 0) for i in range(processes)]
    return await _measured(server, [
        run_python("-c", BOTO3_CLIENT, url, "noop", str(seconds), str(share), what="boto3 client") for share in shares
    ])


async def lean_load(url: str, connections: int, seconds: float, server: list[psutil.Process] | None = None) -> Load:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return await _measured(server, [
        run_python("-c", LEAN_CLIENT, host, port, "noop", str(seconds), str(connections), what="lean client")
    ])


async def _measured(server: list[psutil.Process] | None, clients: list[Any]) -> Load:
    before = _cpu(server)
    results = await asyncio.gather(*clients)
    spent = _cpu(server) - before
    # The clients warm up before their clock starts; the CPU window is a little wider than theirs (said in the README).
    return Load([s for r in results for s in r["samples"]], max(r["elapsed"] for r in results), spent)


def supervisor_tree() -> list[psutil.Process]:
    """This process (lambdatop's supervisor, in the bench) and its children, leaving out the bench's clients."""
    me = psutil.Process()
    out = [me]
    for child in me.children(recursive=True):
        try:
            if not any(CLIENT_MARK in part for part in child.cmdline()):
                out.append(child)
        except psutil.Error:
            continue
    return out


def _cpu(processes: list[psutil.Process] | None) -> float:
    total = 0.0
    for process in processes or supervisor_tree():
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total
