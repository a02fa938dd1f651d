"""Length-prefixed msgpack frames between the supervisor, the zygote and the workers.

A frame is a 4-byte big-endian length, then a msgpack array `[kind, field, ...]`
of one of `messages.py`'s types. Data only: decoding builds strings, bytes,
numbers and containers, never objects of the sender's choosing. A length over
MAX_FRAME is refused from the header alone, before anything is allocated for
the body, and every field is type-checked (`messages.build`), so a broken or
hostile peer costs a `BadMessage`, never the receiver.

The warm path stays cheap: msgpack encodes a request or a reply in about a
microsecond (about as fast as pickle was; JSON took four times as long), and
payloads travel as raw bytes, not base64.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import msgpack

from lambdatop.runtime.worker.messages import KINDS, BadMessage, message_from

HEADER = struct.Struct("!I")
RESPONSE_LIMIT = 6 * 1024 * 1024 + 100  # what the Runtime API accepts (RIE MaxPayloadSize)
OUTPUT_LIMIT = 1024 * 1024  # captured output kept per invocation (CloudWatch keeps 256 KB per event)
# The largest message anyone sends: a response at the limit plus an invocation's output (decoded
# with "replace", which can triple invalid bytes) and the fields around them. Anything longer is refused.
MAX_FRAME = RESPONSE_LIMIT + 4 * OUTPUT_LIMIT + 64 * 1024

# One packer per process: a new one (msgpack.packb) allocates a 256 KB buffer per call. It holds the
# GIL throughout, so threads cannot interleave in it.
_pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack


def encode(message: Any) -> bytes:
    """One frame holding `message` (an instance of a type in messages.KINDS)."""
    body = _pack((KINDS[type(message)], *message))
    return HEADER.pack(len(body)) + body


def decode(body: bytes | memoryview, accepted: frozenset[type]) -> Any:
    """The message in one frame's body, if it is a well-formed message of an accepted kind; raises BadMessage."""
    try:
        items = msgpack.unpackb(body, use_list=False, raw=False, strict_map_key=True)
    except Exception as exc:  # noqa: BLE001 - whatever msgpack makes of garbage, it is a bad frame
        raise BadMessage(f"a frame that is not msgpack ({type(exc).__name__})") from None
    return message_from(items, accepted)


def frame_length(header: bytes | memoryview, offset: int = 0) -> int:
    """The body length a frame header announces; raises BadMessage over MAX_FRAME."""
    (length,) = HEADER.unpack_from(header, offset)
    if length > MAX_FRAME:
        raise BadMessage(f"a frame of {length} bytes, over the {MAX_FRAME}-byte limit")
    return length


def decode_packet(packet: bytes, accepted: frozenset[type]) -> Any:
    """The message in one SOCK_SEQPACKET packet (the control socket): exactly one whole frame; raises BadMessage."""
    if len(packet) < HEADER.size or frame_length(packet) != len(packet) - HEADER.size:
        raise BadMessage(f"a packet of {len(packet)} bytes that is not one whole frame")
    return decode(memoryview(packet)[HEADER.size:], accepted)


class FrameDecoder:
    """Accumulates bytes from a non-blocking socket and yields whole, checked messages.

    `feed` raises BadMessage at the first bad frame; the stream is unusable
    after that (its framing can no longer be trusted), so the caller drops the peer.
    """

    __slots__ = ("_buffer", "_accepted")

    def __init__(self, accepted: frozenset[type]) -> None:
        self._buffer = bytearray()
        self._accepted = accepted

    def feed(self, data: bytes | memoryview) -> list[Any]:
        buffer = self._buffer
        if not buffer:
            # The usual case, one whole reply in one read: decode it in place, keep only a remainder.
            messages, offset = self._decode_frames(data)
            if offset < len(data):
                buffer += data[offset:]
            return messages
        buffer += data
        messages, offset = self._decode_frames(buffer)
        if offset:
            del buffer[:offset]
        return messages

    def _decode_frames(self, data: bytes | bytearray | memoryview) -> tuple[list[Any], int]:
        """The whole frames at the start of `data`, and where the first incomplete one begins.

        A header is checked as soon as it is complete, so an oversized frame is
        refused before its body is buffered.
        """
        messages = []
        offset = 0
        with memoryview(data) as view:  # released before the caller resizes the buffer
            while len(view) - offset >= HEADER.size:
                end = offset + HEADER.size + frame_length(view, offset)
                if len(view) < end:
                    break
                messages.append(decode(view[offset + HEADER.size:end], self._accepted))
                offset = end
        return messages, offset


def recv_message(sock: socket.socket, accepted: frozenset[type]) -> Any | None:
    """Blocking read of one message (the worker's and the zygote's side); None at end of stream."""
    header = _recv_exact(sock, HEADER.size)
    if header is None:
        return None
    body = _recv_exact(sock, frame_length(header))
    if body is None:
        return None
    return decode(body, accepted)


def readable(sock: socket.socket) -> bool:
    """Whether a blocking read of `sock` would return now: data, the end of the stream, or an error."""
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    if size == 0:
        return b""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)
