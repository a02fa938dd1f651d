"""The Lambda Runtime API (2018-06-01) on loopback, for every environment whose runtime is a program.

One aiohttp application for the whole fleet, and one listening port per
environment (`AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT`), as every Lambda sandbox
has its own endpoint. A port, not a path prefix, tells the environments apart
because runtime clients build their URLs differently: some concatenate
`http://` + the variable + the path, but Node's splits it into host and port
and Rust's replaces the path, so only a bare `host:port` works with all of
them. The port is bound before the runtime is forked (its address goes in the
environment) and served from the site started right after; a connection that
comes first waits in the listen backlog.

What each call means for the environment is `execution/runtime_channel.py`'s;
this module is HTTP only: routes, reading bodies (bounded), and rendering
answers as the emulator does (Go's JSON encoder: compact, a trailing newline;
invoke headers only where their value is non-empty; `Content-Type` defaults to
application/json). Also `GET /2018-06-01/ping` ("pong"), as the emulator's.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from typing import TYPE_CHECKING

from lambdatop.runtime.execution.runtime_channel import GONE, Answer, RuntimeApiChannel
from lambdatop.runtime.worker.wire import RESPONSE_LIMIT

PREFIX = "/2018-06-01"
EXTENSIONS = "/2020-01-01"
_READ_CHUNK = 1 << 16

if TYPE_CHECKING:
    from aiohttp import web


class RuntimeApiServer:
    """Serves the Runtime API of each environment on its own loopback port (the `RuntimeApiHost` environments use)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._started = False
        # The aiohttp application, set up with the first endpoint: a fleet of built-in Python workers
        # never needs one, and importing aiohttp is a third of a one-shot `lambdatop invoke`'s start.
        self._runner: asyncio.Task[web.AppRunner] | None = None
        self._channels: dict[int, RuntimeApiChannel] = {}
        self._sites: dict[int, asyncio.Task[web.SockSite]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._started = True

    async def _setup(self) -> web.AppRunner:
        from aiohttp import web

        app = web.Application()
        app.router.add_get(f"{PREFIX}/runtime/invocation/next", self._next)
        app.router.add_post(f"{PREFIX}/runtime/invocation/{{request_id}}/response", self._response)
        app.router.add_post(f"{PREFIX}/runtime/invocation/{{request_id}}/error", self._error)
        app.router.add_post(f"{PREFIX}/runtime/init/error", self._init_error)
        app.router.add_get(f"{PREFIX}/ping", self._ping)
        app.router.add_post(f"{EXTENSIONS}/extension/register", self._register)
        app.router.add_get(f"{EXTENSIONS}/extension/event/next", self._extension_next)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        return runner

    async def _serve(self, sock: socket.socket) -> web.SockSite:
        from aiohttp import web

        assert self._runner is not None
        site = web.SockSite(await self._runner, sock)
        await site.start()
        return site

    def track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the extensions' Shutdown phases under way (the fleet's stop, before the zygote goes)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._tasks):
            await asyncio.gather(task, return_exceptions=True)
        await asyncio.gather(*self._sites.values(), return_exceptions=True)
        self._started = False
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await (await runner).cleanup()
        self._channels.clear()
        self._sites.clear()

    @property
    def open_endpoints(self) -> int:
        return len(self._sites)

    # -- RuntimeApiHost ------------------------------------------------------------------

    def reserve(self) -> str:
        if not self._started:
            raise RuntimeError("the Runtime API server is not started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, 0))
        sock.listen(64)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        loop = asyncio.get_running_loop()
        if self._runner is None:
            self._runner = loop.create_task(self._setup())
        self._sites[port] = loop.create_task(self._serve(sock))
        return f"{self.host}:{port}"

    def attach(self, address: str, channel: RuntimeApiChannel) -> None:
        self._channels[_port(address)] = channel

    def release(self, address: str) -> None:
        port = _port(address)
        self._channels.pop(port, None)
        entry = self._sites.pop(port, None)
        if entry is not None:
            self.track(asyncio.get_running_loop().create_task(_stop_site(entry)))

    # -- the routes ------------------------------------------------------------------------

    def _channel(self, request: web.Request) -> RuntimeApiChannel | None:
        sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
        return self._channels.get(sockname[1]) if sockname else None

    async def _next(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if channel is None:
            return render(GONE)
        answer = channel.next_invocation()
        if isinstance(answer, asyncio.Future):
            answer = await answer
        return render(answer)

    async def _response(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if channel is None:
            return render(GONE)
        body, size = await read_bounded(request, RESPONSE_LIMIT)
        return render(channel.post_response(request.match_info["request_id"], body, size))

    async def _error(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if channel is None:
            return render(GONE)
        body, _size = await read_bounded(request, RESPONSE_LIMIT)
        error_type = request.headers.get("Lambda-Runtime-Function-Error-Type")
        return render(channel.post_error(request.match_info["request_id"], error_type, body))

    async def _init_error(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if channel is None:
            return render(GONE)
        body, _size = await read_bounded(request, RESPONSE_LIMIT)
        return render(channel.post_init_error(request.headers.get("Lambda-Runtime-Function-Error-Type"), body))

    async def _register(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if channel is None:
            return render(GONE)
        body, _size = await read_bounded(request, 1 << 20)
        return render(channel.register_extension(request.headers.get("Lambda-Extension-Name"), body))

    async def _extension_next(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if channel is None:
            return render(GONE)
        answer = channel.extension_next(request.headers.get("Lambda-Extension-Identifier"))
        if isinstance(answer, Answer):
            return render(answer)
        try:
            event = await answer
        except asyncio.CancelledError:
            return render(GONE)
        from aiohttp import web  # loaded already: this route is served by it

        return web.Response(status=200, body=json.dumps(event).encode(), content_type="application/json",
                            headers={"Lambda-Extension-Event-Identifier": str(uuid.uuid4())})

    async def _ping(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        return web.Response(body=b"pong")


async def read_bounded(request: web.Request, limit: int) -> tuple[bytes, int]:
    """The body's first `limit` + 1 bytes and its whole size; the rest is read and dropped."""
    kept = bytearray()
    size = 0
    while True:
        chunk = await request.content.read(_READ_CHUNK)
        if not chunk:
            return bytes(kept), size
        size += len(chunk)
        if len(kept) <= limit:
            kept += chunk[: limit + 1 - len(kept)]


def render(answer: Answer) -> web.Response:
    from aiohttp import web  # loaded already: only the routes render

    if answer.event is None:
        body = json.dumps(answer.body or {}, separators=(",", ":")).encode() + b"\n"
        return web.Response(status=answer.status, body=body, content_type="application/json", headers=answer.headers)
    event = answer.event
    headers = {"Lambda-Runtime-Aws-Request-Id": event.request_id,
               "Lambda-Runtime-Deadline-Ms": str(answer.deadline_ms),
               "Lambda-Runtime-Invoked-Function-Arn": event.invoked_function_arn}
    optional = {"Lambda-Runtime-Trace-Id": event.trace_header,
                "Lambda-Runtime-Client-Context": event.client_context,  # the JSON itself (the endpoint decoded the base64)
                "Lambda-Runtime-Cognito-Identity": event.cognito_identity}
    headers.update({name: value for name, value in optional.items() if value})
    headers["Content-Type"] = "application/json"
    # An empty Invoke body reaches the runtime as `{}`, as the Lambda service hands it over (the
    # built-in worker does the same; the emulator forwards it empty and awslambdaric then fails).
    return web.Response(status=200, body=event.payload or b"{}", headers=headers)


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


async def _stop_site(started: asyncio.Task[web.SockSite]) -> None:
    try:
        site = await started
    except Exception:  # noqa: BLE001 - a site that never started has nothing to stop
        return
    await site.stop()
