"""Power tuning (issue 19): `tune` on a running fleet, `lambdatop tune`, and the dashboard's `T`.

A CPU-bound handler runs at each memory size on a version published for it: proportional CPU
makes 128 MB slower than 1,769 MB (a ratio of the same run, never a timing); the cost column is
Lambda's us-east-1 price (LAMBDA.md §10, written out here, not imported); a size that runs out
of memory is never advised; `$LATEST`, its alias and its versions are as they were after.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult
from lambdatop.runtime.services import ServiceOptions
from lambdatop.runtime.tuning import TuningError, tune
from lambdatop.tui.app import LambdatopApp
from lambdatop.tui.screens.main import MainScreen
from lambdatop.tui.screens.tune import TuneScreen
from lambdatop.tui.widgets.functions_table import FunctionsTable

from .tui_pilot import quit_and_check, screen_text, shown, started, wait_for

pytestmark = pytest.mark.timeout(120)

CPU_BOUND = """\
def handler(event, context):
    total = 0
    for number in range(event.get("n", 300_000)):
        total += number * number
    return total
"""
GREEDY = """\
def handler(event, context):
    hold = bytearray(200 * 1024 * 1024)  # 200 MB: more than 128 MB, less than 512
    hold[::4096] = b"x" * len(hold[::4096])
    return len(hold)
"""
REQUEST_USD = 0.20 / 1_000_000
GB_SECOND_USD = 0.0000166667  # x86_64, first tier


def lambdas_price_per_million(billed_ms: list[int], memory_mb: int) -> float:
    per_call = [REQUEST_USD + (ms / 1000) * (memory_mb / 1024) * GB_SECOND_USD for ms in billed_ms]
    return sum(per_call) / len(per_call) * 1_000_000


@pytest.fixture
def project(make_project) -> Path:
    return make_project({"crunch": CPU_BOUND, "greedy": GREEDY}, """\
        functions:
          crunch: {handler: app.handler, code: crunch, timeout: 30, alias: live}
          greedy: {handler: app.handler, code: greedy, timeout: 30}
    """)


async def test_each_size_runs_on_its_own_version_at_lambdas_price_and_latest_is_left_as_it_was(project: Path) -> None:
    async with Fleet(project) as fleet:
        seen = fleet.subscribe("tune-test")
        report = await tune(fleet, "crunch", [128, 1769], b'{"n": 1500000}', 3)
        versions = fleet.versions.of("crunch")
        assert sorted(versions.versions) == [1] and versions.aliases["live"].function_version == "1"
        assert fleet.functions["crunch"].memory_size == 128 and fleet.functions["crunch"].cpu == "unlimited"
        assert not (fleet.versions.root / "crunch" / "2").exists()
        records = [item.record for item in seen.drain() if isinstance(item, InvocationResult)]
        cpu_follows_memory = fleet.cpu_follows_memory

    assert [r.memory_mb for r in report.results] == [128, 1769]
    by_version = {v: [r for r in records if r.version == v] for v in ("2", "3")}
    assert [len(by_version["2"]), len(by_version["3"])] == [4, 4]  # a cold start, then the 3 measured
    assert {r.memory_size_mb for r in by_version["2"]} == {128} and {r.memory_size_mb for r in by_version["3"]} == {1769}
    assert all(str(r.trigger) == "tune" for r in records)
    for result, version in zip(report.results, ("2", "3"), strict=True):
        assert result.invocations == 3 and result.errors == 0 and result.init_ms is not None
        measured = [r.billed_duration_ms for r in by_version[version] if not r.cold_start]
        assert result.billed_ms == measured
        assert result.per_million_usd == pytest.approx(lambdas_price_per_million(measured, result.memory_mb))
    row = report.table()[1]
    assert row[0] == "128 MB" and row[4] == f"{report.results[0].per_million_usd:.4f}"
    if cpu_follows_memory:
        ratio = report.results[0].p50_ms / report.results[1].p50_ms
        assert ratio >= 3, f"128 MB was only {ratio:.1f}x slower than 1769 MB"
        assert report.fastest is report.results[1]


async def test_a_size_that_runs_out_of_memory_is_never_advised(project: Path) -> None:
    async with Fleet(project) as fleet:
        report = await tune(fleet, "greedy", [128, 512], b"{}", 2)
    small, large = report.results
    assert small.errors == 2 and set(small.error_types) == {"Runtime.OutOfMemory"} and not small.usable
    assert large.errors == 0
    assert report.cheapest is large and report.fastest is large


async def test_a_sweep_stops_between_invocations_and_deletes_its_version(project: Path) -> None:
    async with Fleet(project) as fleet:
        asked: list[int] = []
        report = await tune(fleet, "crunch", [128, 256], b'{"n": 1000}', 5, stop=lambda: len(asked) >= 2,
                            progress=lambda rep, done, count: asked.append(done))
        assert sorted(fleet.versions.of("crunch").versions) == [1]
    assert [r.memory_mb for r in report.results] == [128] and report.results[0].invocations == 2
    assert report.stopped == "stopped by the user"


async def test_a_sweep_lambda_would_refuse_says_why(project: Path) -> None:
    async with Fleet(project) as fleet:
        with pytest.raises(TuningError, match="128-10240 MB"):
            await tune(fleet, "crunch", [64], b"{}", 1)
        with pytest.raises(TuningError, match="1-10,000"):
            await tune(fleet, "crunch", [128], b"{}", 0)
        with pytest.raises(TuningError, match="Function not found"):
            await tune(fleet, "nope", [128], b"{}", 1)


def lambdatop(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lambdatop.tui.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=100)


def test_the_command_prints_the_table_the_plot_and_the_advice_or_json(project: Path) -> None:
    text = lambdatop("tune", "crunch", "-m", "128,512", "-n", "2", cwd=project.parent)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[1].split()[:4] == ["memory", "p50", "ms", "p99"]
    assert lines[2].startswith("128 MB") and lines[3].startswith("512 MB")
    assert any(" time █" in line for line in lines) and any(line.startswith("cheapest: ") for line in lines)

    machine = lambdatop("tune", "greedy", "--memory", "128", "-n", "1", "--json", cwd=project.parent)
    assert machine.returncode == 1, machine.stderr  # the only size ran out of memory: nothing to advise
    document = json.loads(machine.stdout)
    assert document["cheapest_mb"] is None and document["results"][0]["error_types"] == {"Runtime.OutOfMemory": 1}


@pytest.mark.parametrize(("args", "said"), [
    (("crunhc",), "did you mean 'crunch'?"),
    (("crunch", "-m", "64,512"), "128-10240 MB"),
    (("crunch", "-m", "128,lots"), "'lots' is not a memory size in MB"),
    (("crunch", "-n", "0"), "1-10,000"),
])
def test_bad_arguments_exit_2_saying_what_is_wrong(project: Path, args: tuple[str, ...], said: str) -> None:
    done = lambdatop("tune", *args, cwd=project.parent)
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr


async def test_T_tunes_the_selected_function_and_the_sweep_shows_live(project: Path) -> None:
    app = LambdatopApp(project, options=ServiceOptions(port=None, watch=False, store=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        app.screen_stack[0].query_one("#functions", FunctionsTable).select_function("crunch")
        await pilot.press("T")
        screen = await shown(pilot, TuneScreen)
        screen.query_one("#tune-memory").value = "128,512"
        screen.query_one("#tune-count").value = ""
        await pilot.press("enter")  # no N: said so, nothing runs
        await wait_for(pilot, lambda: "how many invocations per memory size" in str(screen.query_one("#tune-status").render()),
                       what="the missing N named")
        assert not screen.running
        screen.query_one("#tune-count").value = "2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.report is not None and len(screen.report.results) == 2
                       and not screen.running, timeout=60, what="the sweep done")
        await wait_for(pilot, lambda: any("cheapest" in line for line in screen_text(app)), what="the advice shown")
        table = screen.query_one("#tune-table")
        assert table.row_count == 2 and list(table.rows)[0].value == "128 MB"
        assert any("128 MB time" in line for line in screen_text(app))
        await pilot.press("escape")
        await shown(pilot, MainScreen)
        await wait_for(pilot, lambda: sum(1 for r in app.last_snapshot.recent if str(r.trigger) == "tune") == 6,
                       what="the sweep's invocations in the stream")
        assert sorted(app.fleet.versions.of("crunch").versions) == [1]
        await quit_and_check(pilot)
