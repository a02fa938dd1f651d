"""Each version's traffic, side by side: what a canary looks like while its alias shifts.

Counters per (function, version) fed by every invocation record, and the typed view the
function screen shows: per version its invocations, errors, p99 and environments busy now
(its share of the function's concurrency), and each alias with its weights and latest shift.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass, field

from lambdatop.runtime.execution.lifecycle import EnvState
from lambdatop.runtime.execution.pool import FunctionPool
from lambdatop.runtime.execution.snapstart import describe
from lambdatop.runtime.observability.percentiles import percentile
from lambdatop.runtime.records import InvocationRecord, InvocationStatus
from lambdatop.runtime.snapshot import AliasView, VersionsView, VersionView
from lambdatop.runtime.versions.model import Alias
from lambdatop.runtime.versions.shifting import Deployment

DURATIONS_KEPT = 1000


@dataclass(slots=True)
class VersionCounters:
    invocations: int = 0
    errors: int = 0
    durations: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=DURATIONS_KEPT))


class VersionTraffic:
    """Counters per (function, version), from the records."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, str], VersionCounters] = {}

    def add(self, record: InvocationRecord) -> None:
        if record.status is InvocationStatus.THROTTLED:
            return  # never ran: no version served it
        counters = self.counters.setdefault((record.function, record.version), VersionCounters())
        counters.invocations += 1
        counters.errors += record.is_error
        counters.durations.append(record.duration_ms)

    def forget(self, function: str) -> None:
        for key in [key for key in self.counters if key[0] == function]:
            del self.counters[key]

    def view(self, function: str, pools: Iterable[FunctionPool], aliases: Iterable[Alias],
             deployments: dict[str, Deployment]) -> VersionsView:
        """`pools`: $LATEST's then each version's; `deployments`: alias name -> its latest shift."""
        versions = []
        for pool in pools:
            counters = self.counters.get((function, pool.version)) or VersionCounters()
            versions.append(VersionView(
                version=pool.version, code_version=pool.code_version, invocations=counters.invocations,
                errors=counters.errors, p99_ms=percentile(sorted(counters.durations), 0.99),
                busy=pool.count(EnvState.BUSY), idle=pool.count(EnvState.IDLE), snapstart=describe(pool.spawner),
            ))
        return VersionsView(tuple(versions), tuple(
            AliasView(alias.name, alias.function_version, dict(alias.weights), _words(deployments.get(alias.name)))
            for alias in aliases))


def _words(deployment: Deployment | None) -> str | None:
    if deployment is None:
        return None
    return (f"{deployment.preference.type_name} {deployment.old} → {deployment.new}: {deployment.state}, "
            f"{deployment.share:.0%}" + (f" ({deployment.reason})" if deployment.reason else ""))
