"""Length-prefixed pickle frames between the supervisor and its workers.

Both ends are ours and trusted; pickle protocol 5 moves a 6 MB payload with one
copy. Messages are plain tuples whose first item names the kind, to keep the
warm path free of object construction.
"""

from __future__ import annotations

import pickle
import socket
import struct

HEADER = struct.Struct("!I")


def encode(message: tuple) -> bytes:
    body = pickle.dumps(message, protocol=5)
    return HEADER.pack(len(body)) + body


class FrameDecoder:
    """Accumulates bytes from a non-blocking socket and yields whole messages."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes | memoryview) -> list[tuple]:
        buffer = self._buffer
        if not buffer:
            # The usual case, one whole reply in one read: decode it in place, keep only a remainder.
            messages, offset = _decode_frames(data)
            if offset < len(data):
                buffer += data[offset:]
            return messages
        buffer += data
        messages = []
        offset = 0
        while len(buffer) - offset >= HEADER.size:
            (length,) = HEADER.unpack_from(buffer, offset)
            end = offset + HEADER.size + length
            if len(buffer) < end:
                break
            messages.append(pickle.loads(memoryview(buffer)[offset + HEADER.size:end]))
            offset = end
        if offset:
            del buffer[:offset]
        return messages


def _decode_frames(data: bytes | memoryview) -> tuple[list[tuple], int]:
    """The whole frames at the start of `data`, and where the first incomplete one begins."""
    view = memoryview(data)
    messages = []
    offset = 0
    while len(view) - offset >= HEADER.size:
        (length,) = HEADER.unpack_from(view, offset)
        end = offset + HEADER.size + length
        if len(view) < end:
            break
        messages.append(pickle.loads(view[offset + HEADER.size:end]))
        offset = end
    return messages, offset


def recv_message(sock: socket.socket) -> tuple | None:
    """Blocking read of one message (the worker's side); None at end of stream."""
    header = _recv_exact(sock, HEADER.size)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    body = _recv_exact(sock, length)
    if body is None:
        return None
    return pickle.loads(body)


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
