"""`lambdatop bench --quick` as CI runs it: it completes, measures every scenario, leaves nothing behind.

The targets are not asserted here (timings on a shared CI machine mean
little); the bench itself reports them.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from lambdatop.runtime.fleet import Fleet
from lambdatop.tui.bench.runner import SCENARIOS

from tests.conftest import zygote_processes_anywhere

LAMBDATOP = Path(sys.executable).parent / "lambdatop"

# Scenarios that measure a capability of another issue: skipped (and said so) only while it does not exist.
CAPABILITIES = {
    "ui": lambda: importlib.util.find_spec("lambdatop.tui.app") is not None,
    "reload": lambda: importlib.util.find_spec("lambdatop.tui.bench.reload") is not None,
    "async": lambda: hasattr(Fleet, "enqueue"),
    "http": lambda: importlib.util.find_spec("lambdatop.runtime.api.endpoint") is not None,
}


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


@pytest.mark.timeout(300)  # the bench's own bound is 240 s; the suite's 120 s cut it short on a loaded machine
def test_quick_bench_measures_every_scenario_and_leaves_no_process(tmp_path: Path) -> None:
    # Every process the bench starts inherits this marker in its environment block (zygotes and workers too).
    marker = f"lambdatop-bench-test-{uuid.uuid4().hex}"
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [str(LAMBDATOP), "bench", "--quick", "--json", str(out)], capture_output=True, text=True, timeout=240, cwd=tmp_path, check=False,
        env={**os.environ, "LAMBDATOP_TEST_MARKER": marker},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())

    assert report["quick"] is True
    assert report["machine"]["cores"] >= 1 and report["machine"]["cpu"]
    assert report["leftover_processes"] == 0
    assert set(report["scenarios"]) == set(SCENARIOS)
    for name, figures in report["scenarios"].items():
        assert figures, name
        skipped = [f for f in figures if f["skipped"]]
        if skipped:
            assert name in CAPABILITIES and not CAPABILITIES[name](), f"{name} skipped but its capability exists: {skipped}"
            continue
        for figure in figures:
            assert figure["error"] is None, figure
            headline = figure["p50"] if figure["p50"] is not None else figure["value"]
            assert _number(headline) and headline >= 0, figure
            if figure["p50"] is not None:
                assert _number(figure["p99"]) and figure["p99"] >= figure["p50"], figure
            if figure["baseline_name"]:
                assert _number(figure["baseline"]) and _number(figure["ratio"]), figure

    # The headline figures of the issue are all there, judged against their same-run baselines.
    headlines = {(f["scenario"], f["figure"]): f for figures in report["scenarios"].values() for f in figures}
    warm = headlines[("warm", "overhead, freeze on (default)")]
    assert warm["baseline_name"] == "socket round trip" and isinstance(warm["met"], bool)
    cold = headlines[("cold", "overhead: start → handler entry − Init")]
    assert cold["baseline_name"] == "os.fork + exit + wait" and isinstance(cold["met"], bool)
    dashboard = headlines[("http", "boto3 rate, 8 callers, dashboard open")]
    assert dashboard["baseline_name"] == "same load, no dashboard" and isinstance(dashboard["met"], bool)
    throughput = headlines[("throughput", "no-op, records kept")]
    assert throughput["samples"] > 0 and isinstance(throughput["met"], bool)
    scale = headlines[("scale", "environments alive at once (sleeping handlers)")]
    assert scale["value"] == scale["samples"] > 0

    # The table went to stdout with the same figures.
    assert "warm" in done.stdout and "overhead, freeze on" in done.stdout

    leftovers = [p for p in zygote_processes_anywhere(marker) if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not leftovers, leftovers


def test_only_runs_the_named_scenarios_and_compare_says_how_each_ratio_moved_since(tmp_path: Path) -> None:
    first, table = tmp_path / "first.json", tmp_path / "bench.md"
    done = subprocess.run(
        [str(LAMBDATOP), "bench", "--quick", "--only", "warm", "--json", str(first), "--markdown", str(table)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(first.read_text())
    assert list(report["scenarios"]) == ["baselines", "warm"]

    # The Markdown table (what the README shows) has the same figures, one row each, and says how it was made.
    lines = table.read_text().splitlines()
    assert lines[0].startswith("`lambdatop bench --quick --only warm --json ") and "cores" in lines[0]
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| scenario")]
    assert len(rows) == sum(len(figures) for figures in report["scenarios"].values())
    row = next(line for line in rows if line.startswith("| warm | overhead, freeze on (default)"))
    assert "socket round trip: " in row and "p50 ≤ 2× baseline" in row and ("yes" in row or "**no**" in row)

    # The earlier run, doctored: the default overhead was a hundredth of its baseline then (so now is worse,
    # whatever load each of the two runs met: two runs' own ratios moved 10× apart on a busy CI machine),
    # one figure the current run does not have, and no figure for the fork baseline (so that one is new).
    warm = report["scenarios"]["warm"]
    default = next(f for f in warm if f["figure"] == "overhead, freeze on (default)")
    default["ratio"] = 0.01
    warm.append({**default, "figure": "a figure from an older bench"})
    report["scenarios"]["baselines"] = [f for f in report["scenarios"]["baselines"] if f["figure"] != "os.fork() + _exit + waitpid"]
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps(report))

    second = tmp_path / "second.json"
    done = subprocess.run([str(LAMBDATOP), "bench", "--quick", "--only", "warm", "--compare", str(earlier), "--json", str(second)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr[-3000:]
    moved = {f["figure"]: f for f in json.loads(second.read_text())["compared_to"]["figures"]}
    now = moved["overhead, freeze on (default)"]
    assert now["measure"] == "ratio" and now["earlier"] == default["ratio"]
    assert now["change"] > 0.10 and now["movement"] == "worse"
    assert moved["a figure from an older bench"]["movement"] == "not measured now"
    assert moved["os.fork() + _exit + waitpid"]["movement"] == "new"
    assert f"against {earlier}" in done.stdout and "worse" in done.stdout


def test_compare_with_a_file_that_is_not_a_report_fails_before_measuring(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text('["not", "a", "report"]')
    for name, says in (("notes.json", "is not a `lambdatop bench --json` report"), ("missing.json", "cannot read")):
        done = subprocess.run([str(LAMBDATOP), "bench", "--compare", name], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path, check=False)
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert "bench: " not in done.stderr.replace("lambdatop bench: ", "")  # no scenario started


def test_unknown_scenario_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run([str(LAMBDATOP), "bench", "--only", "nosuch"], capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False)
    assert done.returncode == 2
    assert "invalid choice: 'nosuch'" in done.stderr


def test_startup_times_the_commands_beside_their_same_run_baselines(tmp_path: Path) -> None:
    """`--only startup`: --help, a one-shot invoke and serve's first answer, each judged against a baseline of this run."""
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [str(LAMBDATOP), "bench", "--quick", "--only", "startup", "--json", str(out)],
        capture_output=True, text=True, timeout=240, cwd=tmp_path, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = {f["figure"]: f for f in json.loads(out.read_text())["scenarios"]["startup"]}
    judged = {
        "lambdatop --help": ("python -c pass", "p50 ≤ 2× baseline"),
        "lambdatop invoke noop": ("python -c pass", "p50 ≤ 4× baseline"),
        "lambdatop serve --no-aws: first answer": ("raw aiohttp app", "p50 ≤ 1.2× baseline"),
    }
    for name, (baseline, target) in judged.items():
        figure, measured = figures[name], figures[f"baseline: {baseline}"]
        assert figure["samples"] == measured["samples"] == 3, figure  # --quick: 3 fresh processes each, interleaved
        assert figure["baseline_name"] == baseline and figure["baseline"] == measured["p50"] > 0, figure
        assert figure["target"] == target and isinstance(figure["met"], bool), figure
        assert figure["ratio"] == figure["p50"] / measured["p50"] and figure["p99"] >= figure["p50"] > 0, figure
    with_sidecar = figures["lambdatop serve: first answer"]
    assert with_sidecar["samples"] == 1 and with_sidecar["baseline_name"] == "raw aiohttp app" and with_sidecar["met"] is None


def test_store_figures_say_bytes_per_invocation_and_the_writers_cpu(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run([str(LAMBDATOP), "bench", "--quick", "--only", "store", "--json", str(out)],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = {f["figure"]: f for f in json.loads(out.read_text())["scenarios"]["store"]}
    size = figures["bytes on disk per no-op invocation (default store, traces kept)"]
    assert size["error"] is None and size["samples"] > 500 and size["target"] == "≤ 1,024 B", size
    # A size, not a timing: it does not move with the machine's load, so the target is held here.
    assert 0 < size["value"] <= 1024 and size["met"] is True, size
    cpu = figures["writer thread CPU per invocation"]
    assert cpu["error"] is None and _number(cpu["value"]) and cpu["value"] > 0, cpu



HOLDS_A_WORKER = """
import asyncio, os, sys
from pathlib import Path
from lambdatop.runtime.fleet import Fleet
from lambdatop.tui.bench.child import unless_orphaned

async def hold():
    async with Fleet(Path(sys.argv[1])) as fleet:
        held = asyncio.create_task(fleet.invoke("sleeper", {"flag": sys.argv[2]}))  # sleeps while the flag file is there
        while not (busy := [e.pid for f in fleet.snapshot().functions if f.name == "sleeper" for e in f.envs
                            if e.state == "busy" and e.pid]):
            await asyncio.sleep(0.02)
        # The worker the invocation holds, by the supervisor's word: the zygote forks spares that come and go.
        Path(sys.argv[3] + ".new").write_text(f"{fleet.spawner.pid} {busy[0]}")
        os.replace(sys.argv[3] + ".new", sys.argv[3])
        await held

asyncio.run(unless_orphaned(hold()))
"""


def test_a_measurement_child_stops_its_fleet_when_the_bench_that_started_it_dies(tmp_path: Path) -> None:
    # The scale scenario's fresh supervisor holds thousands of workers sleeping on a flag file: a bench killed
    # meanwhile (a CI timeout, a second Ctrl-C) must not leave them behind.
    from lambdatop.tui.bench.project import BenchProject

    with BenchProject() as project:
        flag, pids_file = project.path("hold.flag"), tmp_path / "pids"
        flag.write_text("hold")
        bench = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time\n"
                                  "subprocess.Popen([sys.executable, '-c', *sys.argv[1:]])\ntime.sleep(300)",
                                  HOLDS_A_WORKER, str(project.config_path), str(flag), str(pids_file)])
        try:
            deadline = time.monotonic() + 60
            while not (pids_file.exists() and len(pids := pids_file.read_text().split()) == 2):
                assert time.monotonic() < deadline, "the child never started its worker"
                time.sleep(0.05)
            zygote, worker = (psutil.Process(int(pid)) for pid in pids)
            assert worker.ppid() == zygote.pid
        finally:
            bench.kill()
            bench.wait()
        deadline = time.monotonic() + 30
        while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in (zygote, worker)):
            assert time.monotonic() < deadline, "the fleet of a killed bench's child lived on"
            time.sleep(0.05)
        assert flag.exists()  # its workers went with the fleet, not because their flag did
