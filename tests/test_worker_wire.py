"""The worker wire carries data, never code: what a function's process writes on its socket cannot reach the supervisor.

The handler runs in the worker process, so it can write anything on the
worker's own socket. The first tests do exactly that, from a real handler on
a real fleet; the rest pin the decoder itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import signal
import struct
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus
from lambdatop.runtime.worker import wire
from lambdatop.runtime.worker.messages import (
    FROM_SUPERVISOR,
    FROM_WORKER,
    FROM_ZYGOTE,
    TO_ZYGOTE,
    BadMessage,
    ChildExited,
    ErrorObject,
    InitDone,
    InitProblem,
    InvokeRequest,
    InvokeResult,
    SpareReady,
    SpareTaken,
    SpawnRequest,
    Started,
    WorkerSpec,
)

# A handler that writes a crafted frame on its own worker socket (found in /proc/self/fd), then returns.
CRAFTY = '''
import os, pickle, socket, struct, threading, time
import msgpack

class Marker:
    """Unpickled, this opens (creates) the marker file: code of the sender's choosing, run by the receiver."""
    def __init__(self, path):
        self.path = path
    def __reduce__(self):
        return (open, (self.path, "w"))

def frame(body):
    return struct.pack("!I", len(body)) + body

def worker_socket():
    sockets = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                sockets.append(int(name))
        except OSError:
            pass
    assert len(sockets) == 1, sockets
    return sockets[0]

CRAFTED = {
    "pickle": lambda e: frame(pickle.dumps(("result", Marker(e["marker"])), protocol=5)),
    "huge_length": lambda e: struct.pack("!I", 2**31) + b"\\0" * 64,
    "garbage": lambda e: struct.pack("!I", 12) + b"\\xc1" * 12,
    "wrong_types": lambda e: frame(msgpack.packb([12, e["rid"], "yes", 42, None, "fast", b"", 0.0, 0.0, 0, 0])),
    "stranger_reply": lambda e: frame(msgpack.packb([12, "not-a-request", True, b"{}", None, 1.0, "", 0.0, 0.0, 0, 0])),
    "second_started": lambda e: frame(msgpack.packb([10, os.getppid()])),
    "oversized_reply": lambda e: frame(msgpack.packb([12, e["rid"], True, b"x" * (7 << 20), None, 1.0, "", 0.0, 0.0, 0, 0])),
}

AT_IMPORT = os.path.join(os.path.dirname(__file__), "craft_at_import")
if os.path.exists(AT_IMPORT):  # once: during Init, before the runtime says InitDone
    os.remove(AT_IMPORT)
    os.write(worker_socket(), CRAFTED["garbage"]({}))

def handler(event, context):
    how = event.get("how", "none")
    if how == "later":  # from a background thread, once the invocation is over and the environment idle
        def write():
            time.sleep(0.2)
            os.write(worker_socket(), CRAFTED["garbage"](event))
        threading.Thread(target=write).start()
    elif how != "none":
        with socket.socket(fileno=os.dup(worker_socket())) as sock:  # a dup: closing it leaves the runtime's
            sock.sendall(CRAFTED[how](dict(event, rid=context.aws_request_id)))
    return {"pid": os.getpid()}
'''
PROJECT = """
functions:
  # shared: the crafty handler builds its frames with lambdatop's own msgpack
  crafty: {handler: app.handler, code: crafty, freeze: false, dependencies: shared}
  bystander: {handler: app.handler, code: bystander}
"""
BYSTANDER = "import os\ndef handler(event, context):\n    return {'pid': os.getpid()}\n"


class _Marker:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (open, (self.path, "w"))


@pytest.fixture
async def crafty_fleet(make_project: Any) -> Any:
    config = make_project({"crafty": CRAFTY, "bystander": BYSTANDER}, PROJECT)
    async with Fleet(config) as fleet:
        yield fleet


@pytest.mark.parametrize("how", ["pickle", "huge_length", "garbage", "wrong_types", "stranger_reply", "second_started", "oversized_reply"])
async def test_a_crafted_frame_from_a_handler_retires_only_its_environment(crafty_fleet: Fleet, tmp_path: Path, how: str) -> None:
    fleet = crafty_fleet
    marker = tmp_path / "pwned"
    zygote = fleet.spawner.pid
    bystander = await fleet.invoke("bystander", {})
    warm = await fleet.invoke("crafty", {})  # the crafty frame comes from a warm environment

    result = await fleet.invoke("crafty", {"how": how, "marker": str(marker)})

    record = result.record
    assert record.status is InvocationStatus.CRASHED and record.error_type == "Runtime.ExitError"
    assert json.loads(result.response)["errorType"] == "Runtime.ExitError"
    assert record.error_message and "malformed message" in record.error_message
    assert any("bad message on its socket" in line for line in result.log_lines)
    assert not marker.exists(), "the supervisor ran code a worker sent"
    assert fleet.spawner.pid == zygote and fleet.spawner.alive, "the zygote survives"
    # The next invocation runs on a fresh environment; the other function's stays warm.
    again = await fleet.invoke("crafty", {})
    assert again.record.status is InvocationStatus.SUCCESS and again.record.cold_start
    assert json.loads(again.response)["pid"] != json.loads(warm.response)["pid"]
    still = await fleet.invoke("bystander", {})
    assert not still.record.cold_start and json.loads(still.response) == json.loads(bystander.response)


async def test_a_crafted_frame_during_init_fails_the_cold_start_and_the_next_one_works(crafty_fleet: Fleet, tmp_path: Path) -> None:
    fleet = crafty_fleet
    (tmp_path / "crafty" / "craft_at_import").write_text("")
    result = await fleet.invoke("crafty", {})
    assert result.record.status is InvocationStatus.CRASHED and result.record.error_type == "Runtime.ExitError"
    assert any(line.startswith("INIT_REPORT") and line.endswith("Error Type: Runtime.ExitError") for line in result.log_lines)
    again = await fleet.invoke("crafty", {})
    assert again.record.status is InvocationStatus.SUCCESS and again.record.cold_start


def test_the_pickle_payload_is_live(tmp_path: Path) -> None:
    """The crafted pickle frame above is no dud: unpickled (as the old wire did), it runs the sender's code."""
    marker = tmp_path / "armed"
    pickle.loads(pickle.dumps(("result", _Marker(str(marker))), protocol=5))
    assert marker.exists()


async def test_a_bad_frame_from_an_idle_environment_retires_it(crafty_fleet: Fleet) -> None:
    fleet = crafty_fleet
    first = await fleet.invoke("crafty", {"how": "later"})
    assert first.record.status is InvocationStatus.SUCCESS
    pid = json.loads(first.response)["pid"]
    for _ in range(200):  # the thread writes 0.2 s after the reply; the environment then goes
        if not any(env.pid == pid for env in fleet.environments("crafty")):
            break
        await asyncio.sleep(0.02)
    assert not any(env.pid == pid for env in fleet.environments("crafty"))
    again = await fleet.invoke("crafty", {})
    assert again.record.status is InvocationStatus.SUCCESS and again.record.cold_start


async def test_kill_environment_of_a_worker_already_gone_returns_none(crafty_fleet: Fleet) -> None:
    """The dashboard's K on an environment whose worker died a moment ago (issue 17): no ProcessLookupError."""
    fleet = crafty_fleet
    await fleet.invoke("bystander", {})
    (env,) = fleet.environments("bystander")
    assert env.pid is not None
    os.kill(env.pid, signal.SIGCONT)
    os.kill(env.pid, signal.SIGKILL)
    give_up = time.monotonic() + 5
    while psutil.pid_exists(env.pid) and time.monotonic() < give_up:  # the zygote reaps it; the loop has not seen it
        time.sleep(0.005)  # noqa: ASYNC251 - blocking on purpose: the loop must not read the end of stream yet
    assert not psutil.pid_exists(env.pid) and env.alive
    assert fleet.kill_environment("bystander") is None
    for _ in range(250):  # and once the loop has read the worker's end of stream, the pool lets it go
        if env not in fleet.environments("bystander"):
            break
        await asyncio.sleep(0.02)
    again = await fleet.invoke("bystander", {})
    assert again.record.status is InvocationStatus.SUCCESS and again.record.cold_start


# -- the decoder ------------------------------------------------------------------------

SPEC = WorkerSpec("fn-1", "fn", "$LATEST", "app.handler", "/code", {"A": "1"}, 128, "/aws/lambda/fn", "stream", ("/layer",))
EVERY_MESSAGE = [
    SPEC,
    InvokeRequest("rid", b'{"a": 1}', 3000, "arn:aws:lambda:us-east-1:123456789012:function:fn", "Root=1-a-b", None, None, 0.0002),
    Started(1234),
    InitDone(ErrorObject("Runtime.ImportModuleError", "no module", ("  File x",), ""), 1.5, "out\n", 1.0, 2.0, 10, 20,
             InitProblem("Runtime.ImportModuleError", "no module", "/code/app.py", 3)),
    InitDone(None, 1.5, "", 1.0, 2.0, 10, 20, None),
    InvokeResult("rid", True, b"\x00\xffbinary", None, 0.1, "log", 1.0, 2.0, 10, 20),
    SpawnRequest(wire.encode(SPEC)),
    SpareTaken(),
    SpareReady(99),
    ChildExited(99, "signal: killed"),
]


@pytest.mark.parametrize("message", EVERY_MESSAGE, ids=lambda m: type(m).__name__)
def test_every_message_survives_the_wire(message: Any) -> None:
    accepted = frozenset({type(message)})
    assert wire.FrameDecoder(accepted).feed(wire.encode(message)) == [message]


def test_frames_split_anywhere_come_out_whole() -> None:
    messages = [Started(7), InitDone(None, 1.0, "x" * 70_000, 1.0, 2.0, 1, 2), InvokeResult("r", True, b"1", None, 1.0, "", 1.0, 2.0, 1, 2)]
    data = b"".join(wire.encode(m) for m in messages)
    decoder = wire.FrameDecoder(FROM_WORKER)
    out: list[Any] = []
    for start in range(0, len(data), 4093):
        out += decoder.feed(data[start:start + 4093])
    assert out == messages


def test_an_oversized_length_is_refused_from_the_header_alone() -> None:
    decoder = wire.FrameDecoder(FROM_WORKER)
    with pytest.raises(BadMessage, match="over the"):
        decoder.feed(struct.pack("!I", 2**31))  # no body sent: nothing is buffered or allocated for it
    assert wire.MAX_FRAME < 2**31


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (pickle.dumps(("result", "rid", True)), "not msgpack"),
        (b"\xc1\xc1\xc1", "not msgpack"),
        (b"\x93\x0c\x01", "not msgpack"),  # an array of three items with one missing
        (wire._pack(42), "not a message array"),
        (wire._pack((999, 1)), "does not accept"),
        (wire._pack((1, *SPEC)), "does not accept"),  # a WorkerSpec is the supervisor's to send, not a worker's
        (wire._pack((10,)), "with 0 fields"),
        (wire._pack((10, 1, 2)), "with 2 fields"),
        (wire._pack((10, True)), "bool where int"),
        (wire._pack((10, "1234")), "str where int"),
        (wire._pack((12, "rid", True, "not bytes", None, 0.1, "", 1.0, 2.0, 1, 2)), "str where bytes"),
        (wire._pack((11, ("T", 5), 1.0, "", 1.0, 2.0, 1, 2, None)), "int where str"),  # a nested error object
        (wire._pack((11, None, 1.0, "", 1.0, 2.0, 1, 2, {"file": "x"})), "dict where a InitProblem"),
        (wire._pack((10, 1)) + b"\x00", "not msgpack"),  # trailing bytes inside the frame
    ],
)
def test_a_bad_body_is_a_bad_message(body: bytes, reason: str) -> None:
    with pytest.raises(BadMessage, match=reason):
        wire.FrameDecoder(FROM_WORKER).feed(struct.pack("!I", len(body)) + body)


def test_each_end_accepts_only_what_its_peer_may_send() -> None:
    assert FROM_WORKER.isdisjoint(FROM_SUPERVISOR) and FROM_ZYGOTE.isdisjoint(TO_ZYGOTE)
    with pytest.raises(BadMessage):
        wire.decode_packet(wire.encode(SpawnRequest(b"")), FROM_ZYGOTE)
    with pytest.raises(BadMessage, match="not one whole frame"):
        wire.decode_packet(wire.encode(SpareReady(1))[:-1], FROM_ZYGOTE)
    assert wire.decode_packet(wire.encode(SpareReady(1)), FROM_ZYGOTE) == SpareReady(1)
