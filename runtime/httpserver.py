"""aiohttp, hardened for clients that are slow, stuck, many or malformed: one runner for each HTTP server.

aiohttp reads a request's headers and body for as long as the client takes,
accepts connections until the process runs out of file descriptors (asyncio
then logs a traceback per failed accept, megabytes a second), and answers its
own parse errors (a URL or header over 8 KB, a bad method, a negative
Content-Length) as text/plain. `GuardedRunner` is a drop-in `web.AppRunner`
that adds:

- a header deadline (HEADER_TIMEOUT_S from the connection to a parsed request)
  and a body deadline (BODY_TIMEOUT_S from the headers to the body's end);
  past either the connection is closed;
- a connection cap (`max_connections`, below the fd limit): connections past
  it are closed at once, so the ones already open keep being served;
- one log line per storm (a cap or accept failures), never one per event;
- the server's own errors in the caller's error shape (`error_response`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from lambdatop.runtime.fdlimit import raise_fd_limit

HEADER_TIMEOUT_S = 15.0
BODY_TIMEOUT_S = 60.0  # a 6 MB payload over loopback takes milliseconds; a slow link still has a minute
KEEPALIVE_S = 75.0  # an idle keep-alive connection is closed after this (aiohttp's default is an hour)
FD_HEADROOM = 256  # descriptors kept for workers, the store, the watcher and the sidecar
STORM_WINDOW_S = 30.0

LOG = logging.getLogger("lambdatop.http")

ErrorResponse = Callable[[int, str], web.Response]


def default_max_connections() -> int:
    """Connections a server may hold: the (raised) fd limit, less headroom."""
    return max(16, min(10_000, raise_fd_limit() - FD_HEADROOM))


class Storm:
    """Says something once per burst: the first time, then how many more when the burst has passed."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.since: float | None = None
        self.count = 0

    def hit(self, detail: str) -> None:
        now = time.monotonic()
        if self.since is None or now - self.since > STORM_WINDOW_S:
            if self.count > 1:
                LOG.warning("%s: %d more in the last burst", self.what, self.count - 1)
            self.since, self.count = now, 0
            LOG.warning("%s: %s (said once per %.0f s)", self.what, detail, STORM_WINDOW_S)
        self.count += 1


class _AcceptStormFilter(logging.Filter):
    """asyncio logs a traceback for every accept() that fails at the fd limit: one line per storm instead."""

    storm = Storm("out of file descriptors: new connections are refused")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("socket.accept() out of system resource"):
            self.storm.hit(str(record.exc_info[1]) if record.exc_info else "accept() failed")
            return False
        return True


_ACCEPT_FILTER = _AcceptStormFilter()


class _GuardedHandler(RequestHandler):
    """One connection: closed when the client is too slow; aiohttp's own errors in the server's error shape."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        server = self._manager
        assert isinstance(server, GuardedServer)
        if len(server.connections) >= server.max_connections:
            server.cap_storm.hit(f"{server.max_connections} open; new connections are closed until some end")
            transport.close()
            return
        super().connection_made(transport)
        self._arm(HEADER_TIMEOUT_S, None)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        if self._manager is not None and self._task_handler is None:
            return  # closed by the cap before aiohttp saw it
        super().connection_lost(exc)

    def request_started(self, payload: Any) -> None:
        self._arm(BODY_TIMEOUT_S, payload)

    def _arm(self, seconds: float, payload: Any) -> None:
        self._disarm()
        self._deadline = self._loop.call_later(seconds, self._expired, payload)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, payload: Any) -> None:
        self._deadline = None
        if payload is not None and payload.is_eof():
            return  # the body is in; the handler may take as long as the function does
        server = self._manager
        if isinstance(server, GuardedServer):
            part = "headers" if payload is None else "body"
            server.slow_storm.hit(f"a client sent its {part} too slowly; its connection was closed")
        self.force_close()
        if self.transport is not None:
            self.transport.close()

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        server = self._manager
        if not isinstance(server, GuardedServer) or server.error_response is None or request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)
        if status >= 500:
            self.log_exception("Error handling request", exc_info=exc)
        text = message or (str(exc) if exc else "Bad Request")
        response = server.error_response(status, text.strip())
        response.force_close()
        return response


class GuardedServer(Server):
    """aiohttp's low-level server with the connection cap and the guarded handler."""

    def __init__(self, *args: Any, max_connections: int, error_response: ErrorResponse | None, **kwargs: Any) -> None:
        factory = kwargs.pop("request_factory")

        def make_request(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> Any:
            if isinstance(protocol, _GuardedHandler):
                protocol.request_started(payload)
            return factory(message, payload, protocol, writer, task)

        super().__init__(*args, request_factory=make_request, **kwargs)
        self.max_connections = max_connections
        self.error_response = error_response
        self.cap_storm = Storm("connection cap reached")
        self.slow_storm = Storm("slow clients timed out")

    def __call__(self) -> RequestHandler:
        return _GuardedHandler(self, loop=self._loop, **self._kwargs)


class GuardedRunner(web.AppRunner):
    """`web.AppRunner` with deadlines, a connection cap and one log line per storm."""

    def __init__(self, app: web.Application, *, error_response: ErrorResponse | None = None,
                 max_connections: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("keepalive_timeout", KEEPALIVE_S)
        super().__init__(app, **kwargs)
        self._error_response = error_response
        self._max_connections = max_connections or default_max_connections()
        asyncio_log = logging.getLogger("asyncio")
        if _ACCEPT_FILTER not in asyncio_log.filters:
            asyncio_log.addFilter(_ACCEPT_FILTER)

    async def _make_server(self) -> Server:
        plain = await super()._make_server()
        # Application._make_handler built a plain Server from the app: rebuilt with the same arguments.
        return GuardedServer(
            plain.request_handler, request_factory=plain.request_factory, loop=plain._loop,
            handler_cancellation=plain.handler_cancellation,
            max_connections=self._max_connections, error_response=self._error_response, **plain._kwargs,
        )

    @property
    def connections(self) -> int:
        server = self.server
        return len(server.connections) if server is not None else 0


async def start_guarded(app: web.Application, host: str, port: int, *, error_response: ErrorResponse,
                        shutdown_timeout: float) -> GuardedRunner:
    """`app` set up and listening on host:port behind a `GuardedRunner`; an OSError (a busy port, an
    address that is not ours) comes back after the runner is cleaned up, for the caller to word."""
    runner = GuardedRunner(app, error_response=error_response, access_log=None, shutdown_timeout=shutdown_timeout,
                           handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner
