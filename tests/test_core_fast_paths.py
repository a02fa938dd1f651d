"""The fast paths keep Lambda's behaviour: the spare forked ahead of a cold start, polling for a
fast reply while invocations come one at a time, and the freeze once an environment has stayed idle."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import psutil

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.execution.environment import FREEZE_GRACE_S
from lambdatop.runtime.execution.invoker import POLLS_PER_TURN
from lambdatop.runtime.records import InvocationStatus
from tests.conftest import gone
from tests.support import voluntary_switches
from tests.waiting import eventually

SWITCHABLE = """
import os, time

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit") is not None:
        os._exit(event["exit"])
    return os.getpid()
"""

ONE_FUNCTION = "functions:\n  fn:\n    handler: app.handler\n"

TICKING = """
import os, threading, time

PATH = os.environ["TICKS"]

def tick():
    while True:
        with open(PATH, "a") as ticks:
            ticks.write(".")
        time.sleep(0.005)

threading.Thread(target=tick, daemon=True).start()

def handler(event, context):
    time.sleep(event.get("busy", 0))
    return 1
"""


def _spares(fleet: Fleet) -> list[psutil.Process]:
    """The zygote's children that no environment owns: its spare."""
    assert fleet.spawner.pid is not None
    owned = {env.pid for pool in fleet.pools.values() for env in pool.envs.values()}
    return [child for child in psutil.Process(fleet.spawner.pid).children() if child.pid not in owned]


async def _answer_fast(fleet: Fleet) -> None:
    """Warm invocations of `fn`, one at a time, until its replies are polled for (a fast answer last time)."""
    for _ in range(20):
        assert (await fleet.invoke("fn", {})).record.status is InvocationStatus.SUCCESS


async def _the_spare(fleet: Fleet, timeout: float = 5.0) -> psutil.Process:
    """The spare, as one look saw it: waiting for one and then looking again could miss it (the zygote's
    children are read from /proc while it forks), which was an IndexError in a loaded CI run."""
    deadline = time.monotonic() + timeout
    while len(found := _spares(fleet)) != 1:
        assert time.monotonic() < deadline, f"{len(found)} spares, not 1"
        await asyncio.sleep(0.01)
    return found[0]


async def test_a_cold_start_is_served_by_the_process_forked_ahead_of_it(make_project) -> None:
    config = make_project({"fn": SWITCHABLE}, ONE_FUNCTION)
    async with Fleet(config) as fleet:
        # A forked child is a spare to take once the zygote has said so: until then a cold start forks anew.
        await eventually(lambda: fleet.spawner.spare_pid is not None, "a spare forked")
        spare = fleet.spawner.spare_pid
        assert [p.pid for p in _spares(fleet)] == [spare]
        result = await fleet.invoke("fn", {})
        assert result.record.cold_start and result.record.status is InvocationStatus.SUCCESS
        assert int(result.response) == spare == result.record.pid
        # The next spare follows, for the next cold start.
        await eventually(lambda: fleet.spawner.spare_pid not in (None, spare), "a new spare forked")


async def test_a_spare_that_died_unused_is_replaced_and_the_cold_start_still_works(make_project) -> None:
    config = make_project({"fn": SWITCHABLE}, ONE_FUNCTION)
    async with Fleet(config) as fleet:
        spare = await _the_spare(fleet)
        os.kill(spare.pid, signal.SIGKILL)
        await eventually(lambda: gone(spare.pid), "the old spare gone")
        result = await fleet.invoke("fn", {})
        assert result.record.status is InvocationStatus.SUCCESS and result.record.cold_start
        assert result.record.pid != spare.pid


async def test_cold_starts_at_once_get_a_worker_each(make_project) -> None:
    config = make_project({"fn": SWITCHABLE}, ONE_FUNCTION)
    async with Fleet(config) as fleet:
        results = await asyncio.gather(*(fleet.invoke("fn", {"sleep": 0.3}) for _ in range(6)))
        assert all(r.record.status is InvocationStatus.SUCCESS and r.record.cold_start for r in results)
        assert len({r.record.pid for r in results}) == 6


async def test_invoking_back_to_back_lets_the_event_loop_turn(make_project) -> None:
    config = make_project({"fn": SWITCHABLE}, ONE_FUNCTION)
    async with Fleet(config) as fleet:
        await fleet.invoke("fn", {})  # the cold start
        turns = 0

        async def count_turns() -> None:
            nonlocal turns
            while True:
                await asyncio.sleep(0)
                turns += 1

        counter = asyncio.create_task(count_turns())
        await asyncio.sleep(0.01)
        without_a_turn = longest = 0
        try:
            for _ in range(10 * (POLLS_PER_TURN + 1)):
                before = turns
                result = await fleet.invoke("fn", {})
                assert result.record.status is InvocationStatus.SUCCESS
                without_a_turn = without_a_turn + 1 if turns == before else 0
                longest = max(longest, without_a_turn)
        finally:
            counter.cancel()
        # Polled replies complete without a turn of the loop, but never more than POLLS_PER_TURN in a row.
        assert longest <= POLLS_PER_TURN


async def test_a_fast_function_that_turns_slow_still_times_out(make_project) -> None:
    config = make_project({"fn": SWITCHABLE}, ONE_FUNCTION + "    timeout: 1\n")
    async with Fleet(config) as fleet:
        await _answer_fast(fleet)
        slow = await fleet.invoke("fn", {"sleep": 3})
        assert slow.record.status is InvocationStatus.TIMEOUT
        assert slow.record.error_type == "Sandbox.Timedout"
        assert (await fleet.invoke("fn", {})).record.status is InvocationStatus.SUCCESS


async def test_a_worker_that_exits_between_fast_invocations_is_reported_as_a_crash(make_project) -> None:
    config = make_project({"fn": SWITCHABLE}, ONE_FUNCTION)
    async with Fleet(config) as fleet:
        await _answer_fast(fleet)
        crashed = await fleet.invoke("fn", {"exit": 3})
        assert crashed.record.status is InvocationStatus.CRASHED
        assert crashed.record.error_message.endswith("Runtime exited with error: exit status 3")
        after = await fleet.invoke("fn", {})
        assert after.record.status is InvocationStatus.SUCCESS and after.record.cold_start


async def test_background_threads_do_not_run_while_the_environment_is_idle(make_project, tmp_path: Path) -> None:
    ticks = tmp_path / "ticks"
    config = make_project(
        {"fn": TICKING},
        f"functions:\n  fn:\n    handler: app.handler\n    environment: {{TICKS: '{ticks}'}}\n",
    )
    async with Fleet(config) as fleet:
        for _ in range(5):
            last = await fleet.invoke("fn", {})
        worker = psutil.Process(last.record.pid)
        await eventually(lambda: worker.status() == psutil.STATUS_STOPPED, "the worker frozen")  # frozen once idle past the grace
        idle_from = ticks.stat().st_size
        await asyncio.sleep(0.3)
        assert ticks.stat().st_size == idle_from  # frozen: the thread stands still
        await fleet.invoke("fn", {"busy": 0.2})
        assert ticks.stat().st_size > idle_from  # thawed for the invocation, it ran again


async def test_a_caller_back_within_the_grace_finds_its_environment_running_and_a_pause_finds_it_frozen(make_project) -> None:
    # A caller that comes back within the grace (an HTTP client's next call) takes its environment back
    # running: no stop and continue per call. One that pauses longer finds it frozen, as on Lambda.
    async with Fleet(make_project({"fn": SWITCHABLE}, ONE_FUNCTION)) as fleet:
        await fleet.invoke("fn", {})
        env = fleet.environments("fn")[0]
        within_grace = stopped = 0
        for _ in range(2000):
            before = time.monotonic()  # the environment went idle after this, so it cannot be frozen before + grace
            assert (await fleet.invoke("fn", {})).record.env_id == env.id
            await asyncio.sleep(0)
            await asyncio.sleep(0)  # (the old freeze, at the end of the loop's turn, went out by now)
            if time.monotonic() < before + FREEZE_GRACE_S:  # a sample the machine's load did not spoil
                within_grace += 1
                stopped += env.frozen
            if within_grace == 20:
                break
        assert within_grace > 0 and stopped == 0
        await eventually(lambda: psutil.Process(env.pid).status() == psutil.STATUS_STOPPED, "the idle worker stopped")
        assert env.frozen


async def test_freezing_and_thawing_a_worker_does_not_wake_the_zygote(make_project) -> None:
    # Each warm invocation of a frozen environment thaws (SIGCONT) and freezes (SIGSTOP) its worker;
    # the zygote, their parent, waits only for exits, so those stops and continues must not wake it.
    async with Fleet(make_project({"fn": SWITCHABLE}, ONE_FUNCTION)) as fleet:
        await _answer_fast(fleet)
        env = fleet.environments("fn")[0]
        zygote = fleet.spawner.pid
        assert zygote is not None
        before = voluntary_switches(str(zygote))
        for _ in range(200):
            assert (await fleet.invoke("fn", {})).record.status is InvocationStatus.SUCCESS
            await eventually(lambda: env.frozen, "the environment frozen after its grace", step=0.001)
        assert env.invocations >= 220 and fleet.environments("fn") == [env]
        # Two SIGCHLDs per invocation would be 400 wakeups; what is left is the zygote's own timers and spares.
        assert voluntary_switches(str(zygote)) - before < 20  # (82 here without SA_NOCLDSTOP, 2 with it)
