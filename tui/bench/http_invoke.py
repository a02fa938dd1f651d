"""The Invoke API over loopback with a real boto3 client, against `Fleet.invoke` in the same run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdatop.tui.bench.capability import missing
from lambdatop.tui.bench.results import Figure

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext


async def run(ctx: BenchContext) -> list[Figure]:
    absent = missing("lambdatop.runtime.endpoint", "LambdaEndpoint")
    if absent:
        return [Figure("http", "boto3 invoke, one at a time", "µs", skipped=absent)]
    raise NotImplementedError("wire LambdaEndpoint")
