"""CloudWatch Embedded Metric Format: JSON log lines that carry metrics (Powertools Metrics prints them).

A line is an EMF document when it is a JSON object with
`_aws.CloudWatchMetrics[{Namespace, Dimensions: [[names]], Metrics: [{Name, Unit}]}]`;
each metric's value (a number or a list of numbers) sits at the top level under
its name, and so do the dimension values. CloudWatch ignores malformed
documents (it keeps them as plain log lines), and so do we.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class MetricDatum:
    namespace: str
    name: str
    unit: str
    values: list[float]
    dimensions: dict[str, str] = field(default_factory=dict)
    timestamp: float | None = None  # epoch seconds, from _aws.Timestamp (ms)

    @property
    def key(self) -> str:
        """How lambdatop names a custom metric: `Namespace/Name` (summed across dimension values)."""
        return f"{self.namespace}/{self.name}"


def _numbers(value: Any) -> list[float] | None:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            return None
        out.append(float(item))
    return out or None


def parse_line(line: str) -> list[MetricDatum]:
    """The metrics in one log line (empty when it is not a valid EMF document)."""
    text = line.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return []
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    meta = doc.get("_aws") if isinstance(doc, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("CloudWatchMetrics"), list):
        return []
    stamp = meta.get("Timestamp")
    timestamp = stamp / 1000.0 if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) else None
    data: list[MetricDatum] = []
    for directive in meta["CloudWatchMetrics"]:
        if not isinstance(directive, dict) or not isinstance(directive.get("Namespace"), str):
            continue
        dimensions: dict[str, str] = {}
        for dimension_set in directive.get("Dimensions") or []:
            if isinstance(dimension_set, list):
                for dim in dimension_set:
                    if isinstance(dim, str) and dim in doc:
                        dimensions[dim] = str(doc[dim])
        for metric in directive.get("Metrics") or []:
            if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
                continue
            values = _numbers(doc.get(metric["Name"]))
            if values is None:
                continue
            data.append(MetricDatum(directive["Namespace"], metric["Name"], str(metric.get("Unit") or "None"), values, dimensions, timestamp))
    return data


def extract(lines: Iterable[str]) -> list[MetricDatum]:
    """Every metric in an invocation's log lines."""
    out: list[MetricDatum] = []
    for line in lines:
        if '"_aws"' in line:
            out.extend(parse_line(line))
    return out
