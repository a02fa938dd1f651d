"""`lambdatop bench`: the performance figures, each beside a baseline measured in the same run.

One module per scenario group (baselines, warm, cold, throughput, scale, ui,
reload, async, HTTP, start-up); `runner` runs them in order on a generated
project of no-op handlers and collects `Figure` rows (`results`); `lambdatop
bench` prints them. Only the names are here, so the command line's parser can
list them without importing the scenarios.
"""

# Every scenario group, in the order they run. Each is a module of this package
# with `async def run(ctx: BenchContext) -> list[Figure]` (runner.py maps the names). Scale goes last: the
# kernel takes a minute to tear down its 3,000 environments' cgroups (load average ~20 on 2 cores), which
# would fall on whatever was measured next.
SCENARIOS = ("baselines", "warm", "cold", "snapstart", "throughput", "ui", "reload", "async", "http", "sqs", "startup",
             "store", "scale")
