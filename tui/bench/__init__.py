"""`lambdatop bench`: the performance figures, each beside a baseline measured in the same run.

One module per scenario group (baselines, warm, cold, throughput, scale, ui,
reload, async, HTTP); `runner` runs them in order on a generated project of
no-op handlers and collects `Figure` rows; `lambdatop bench` prints them.
"""

from lambdatop.tui.bench.results import BenchReport, Figure
from lambdatop.tui.bench.runner import SCENARIOS, run_bench

__all__ = ["SCENARIOS", "BenchReport", "Figure", "run_bench"]
