"""Runs a power-tuning sweep on a running fleet: one published variant per memory size, invoked in turn."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from lambdatop.runtime.config.model import MEMORY_RANGE
from lambdatop.runtime.errors import FleetStopped, LambdaServiceError
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus, Trigger
from lambdatop.runtime.tuning.report import MemoryResult, TuningReport

# aws-lambda-power-tuning's usual sweep, with 1,769 MB (one whole vCPU) in it.
DEFAULT_MEMORY_SIZES = (128, 256, 512, 1024, 1769, 3008)
MAX_COUNT = 10_000

# (the report so far, invocations done at its last size, invocations per size): after every invocation
Progress = Callable[[TuningReport, int, int], None]


class TuningError(Exception):
    """A sweep that cannot start: an unknown function, a memory size Lambda refuses, a bad count."""


def parse_memory_sizes(text: str) -> list[int]:
    """`128,512,1769` (or `128MB, 512`) as sizes; anything else says what was expected."""
    sizes = []
    for part in text.split(","):
        word = part.strip().removesuffix("MB").removesuffix("mb").strip()
        if not word.isdigit():
            raise TuningError(f"{part.strip()!r} is not a memory size in MB (e.g. 128,512,1769)")
        sizes.append(int(word))
    return sizes


def check_sweep(memory_sizes: Sequence[int], count: int) -> None:
    low, high = MEMORY_RANGE
    wrong = [size for size in memory_sizes if not low <= size <= high]
    if wrong:
        raise TuningError(f"memory sizes must be {low}-{high} MB, as on Lambda: {', '.join(map(str, wrong))}")
    if not memory_sizes:
        raise TuningError("no memory sizes to try")
    if not 1 <= count <= MAX_COUNT:
        raise TuningError(f"invocations per memory size must be 1-{MAX_COUNT:,}, not {count}")


async def tune(fleet: Fleet, function: str, memory_sizes: Sequence[int], payload: bytes, count: int,
               progress: Progress | None = None, stop: Callable[[], bool] = lambda: False) -> TuningReport:
    """Invoke `function` `count` times at each memory size (after one cold start each) and report what each cost.

    Each size runs on a version published for it (`VersionRegistry.publish_variant`) with proportional
    CPU, deleted once its invocations are done, so `$LATEST` and its aliases never change. The sizes run
    one after another and the invocations one at a time, so they do not share the machine's CPUs.
    `stop()` is asked between invocations (the dashboard's esc): the run ends there, its version deleted.
    """
    check_sweep(memory_sizes, count)
    try:
        pool = fleet.invoker.resolve(function)[0]
    except LambdaServiceError as exc:
        raise TuningError(str(exc)) from exc
    if pool.function.cannot_run is not None:
        raise TuningError(f"{pool.name} cannot run here: {pool.function.cannot_run.reason}")
    report = TuningReport(pool.name, pool.function.architecture, count, cpu_limited=fleet.cpu_follows_memory)
    for memory in dict.fromkeys(memory_sizes):  # in the order given, each once
        variant = replace(pool.function, memory_size=memory, cpu="proportional")
        version = fleet.versions.publish_variant(pool, variant, f"lambdatop tune: {memory} MB")
        result = MemoryResult(memory)
        report.results.append(result)
        try:
            await _measure(fleet, f"{pool.name}:{version.name}", payload, count, report, progress, stop)
        except FleetStopped as stopped:
            report.stopped = str(stopped)
        finally:
            fleet.versions.delete_version(pool.name, version.name)
        if report.stopped is None and stop():
            report.stopped = "stopped by the user"
        if report.stopped is not None:
            break
    return report


async def _measure(fleet: Fleet, qualified: str, payload: bytes, count: int, report: TuningReport,
                   progress: Progress | None, stop: Callable[[], bool]) -> None:
    """One cold start (its Init kept apart, as power tuning's warm-up), then `count` measured invocations."""
    result = report.results[-1]
    try:
        first = await fleet.invoke(qualified, payload, trigger=Trigger.TUNE)
        result.init_ms = first.record.init_duration_ms
    except FleetStopped:
        raise
    except LambdaServiceError:
        pass  # throttled or refused: the measured invocations say it
    for done in range(1, count + 1):
        if stop():
            return
        try:
            outcome = await fleet.invoke(qualified, payload, trigger=Trigger.TUNE)
        except FleetStopped:
            raise
        except LambdaServiceError as refused:
            result.refused(refused.code)
        else:
            record = outcome.record
            failed = record.status is not InvocationStatus.SUCCESS
            result.add(record.duration_ms, record.billed_duration_ms, report.architecture,
                       (record.error_type or str(record.status)) if failed else None)
        if progress is not None:
            progress(report, done, count)
