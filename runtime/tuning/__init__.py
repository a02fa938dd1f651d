"""Power tuning: a function run N times at each memory size, and what each size costs and how fast it is.

What aws-lambda-power-tuning does with a Step Functions workflow, on the running fleet: for each
memory size a version of `$LATEST`'s code is published with that memory and proportional CPU
(`cpu: proportional`, so memory buys CPU as on Lambda), invoked once to start an environment
(the cold start is reported apart) and then N times in a row, and deleted. `$LATEST`, its aliases
and its warm environments are left as they were. `sweep.py` runs it; `report.py` is what it found.

Imports the fleet (it runs through the façade, as any caller), records, the config and the cost rule.
"""

from lambdatop.runtime.tuning.report import MemoryResult, TuningReport
from lambdatop.runtime.tuning.sweep import DEFAULT_MEMORY_SIZES, TuningError, check_sweep, parse_memory_sizes, tune

__all__ = ["DEFAULT_MEMORY_SIZES", "MemoryResult", "TuningError", "TuningReport", "check_sweep", "parse_memory_sizes", "tune"]
