"""A local X-Ray daemon: the UDP endpoint the X-Ray SDK (and Powertools Tracer) send segments to.

The wire format is the real daemon's (LAMBDA.md §11): one datagram per
document, a JSON header line `{"format":"json","version":1}`, a newline, then
the segment or subsegment JSON. Inside Lambda the SDK streams each finished
subsegment at once, with the function segment's id (the `Parent` of
`_X_AMZN_TRACE_ID`) as its `parent_id`; the trace index attaches it there.

It listens on 127.0.0.1 and, by default, a free port (2000 is often taken by a
real daemon); workers learn the address from the variables the SDK reads.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

HEADER = {"format": "json", "version": 1}
MAX_DOCUMENT_BYTES = 64 * 1024


class MalformedDatagram(ValueError):
    """A datagram that is not `{"format":"json","version":1}\\n{document}`."""


def parse_datagram(data: bytes) -> dict[str, Any]:
    """The segment document in one daemon datagram; raises MalformedDatagram."""
    if len(data) > MAX_DOCUMENT_BYTES + 64:
        raise MalformedDatagram(f"datagram of {len(data)} bytes is over the 64 kB document limit")
    head, sep, body = data.partition(b"\n")
    if not sep:
        raise MalformedDatagram("no header line")
    try:
        header = json.loads(head)
        document = json.loads(body)
    except ValueError as exc:
        raise MalformedDatagram(f"not JSON: {exc}") from exc
    if not isinstance(header, dict) or header.get("format") != "json" or header.get("version") != 1:
        raise MalformedDatagram(f"unknown header {head[:80]!r}")
    if not isinstance(document, dict):
        raise MalformedDatagram("document is not an object")
    return document


def encode_datagram(document: dict[str, Any]) -> bytes:
    """What the SDK's UDP emitter sends for `document` (for tests and tools)."""
    return json.dumps(HEADER, separators=(",", ":")).encode() + b"\n" + json.dumps(document, separators=(",", ":")).encode()


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, daemon: XRayDaemon) -> None:
        self.daemon = daemon

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.daemon._received(data)

    def error_received(self, exc: Exception) -> None:  # ICMP errors on a UDP socket: nothing to do
        pass


class XRayDaemon:
    """Receives segment documents over UDP and hands each to `on_document` (on the event loop, O(1))."""

    def __init__(self, on_document: Callable[[dict[str, Any]], Any], host: str = "127.0.0.1", port: int = 0) -> None:
        self.on_document = on_document
        self.host = host
        self.port = port
        self.received = 0
        self.malformed = 0
        self.last_error: str | None = None
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def environment(self) -> dict[str, str]:
        """The variables Lambda sets for the SDK: the daemon's address, in both spellings the SDKs read."""
        return {
            "AWS_XRAY_DAEMON_ADDRESS": self.address,
            "_AWS_XRAY_DAEMON_ADDRESS": self.host,
            "_AWS_XRAY_DAEMON_PORT": str(self.port),
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        }

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=(self.host, self.port))
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    @property
    def running(self) -> bool:
        return self._transport is not None

    def _received(self, data: bytes) -> None:
        try:
            document = parse_datagram(data)
        except MalformedDatagram as exc:
            self.malformed += 1
            self.last_error = str(exc)
            return
        self.received += 1
        self.on_document(document)
