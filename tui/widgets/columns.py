"""Responsive table columns: each has a priority; a narrow terminal shows the most important ones.

At 80 columns the functions table keeps name, concurrency, rates, errors,
throttles and p99; a wide terminal adds the sparkline, percentiles, memory and
the rest, in their usual order.
"""

from __future__ import annotations

from dataclasses import dataclass

CELL_PADDING = 1  # DataTable's default: one space each side of a cell


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    priority: int = 0  # 0 always shown; higher numbers are dropped first
    justify: str = "left"


def fit_columns(columns: list[Column], available: int) -> list[Column]:
    """The columns that fit in `available` cells, by priority, kept in their original order."""
    chosen: set[str] = set()
    used = 0
    for column in sorted(columns, key=lambda c: c.priority):
        cost = column.width + 2 * CELL_PADDING
        if column.priority > 0 and used + cost > available:
            continue
        chosen.add(column.key)
        used += cost
    return [c for c in columns if c.key in chosen]
