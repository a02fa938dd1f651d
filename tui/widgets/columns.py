"""Responsive table columns: each has a priority; a narrow terminal shows the most important ones.

At 80 columns the functions table keeps name, concurrency, rates, errors,
throttles and p99; a wide terminal adds the sparkline, percentiles, memory and
the rest, in their usual order.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

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


def join_cells(columns: list[Column], cells: dict[str, Text]) -> Text:
    """One table row as a single Text, each cell cut or padded to its column's width.

    The tables hand DataTable one cell per row: rendering one long cell costs a
    fraction of rendering a dozen short ones (each DataTable cell is padded and
    rendered on its own), and that is most of a frame's cost under load.
    """
    line = Text(no_wrap=True, overflow="crop", end="")
    for index, column in enumerate(columns):
        if index:
            line.append(" " * (2 * CELL_PADDING))
        cell = cells.get(column.key) or Text("")
        if cell.cell_len > column.width:
            cell = cell.copy()
            cell.truncate(column.width, overflow="ellipsis")
        gap = " " * (column.width - cell.cell_len)
        if column.justify == "right":
            line.append(gap)
            line.append_text(cell)
        else:
            line.append_text(cell)
            line.append(gap)
    return line


def header_line(columns: list[Column], styles: dict[str, str] | None = None, marks: dict[str, str] | None = None) -> Text:
    """The column labels as one Text, aligned like `join_cells` rows."""
    cells = {}
    for column in columns:
        label = column.label + ((marks or {}).get(column.key, ""))
        cells[column.key] = Text(label, style=(styles or {}).get(column.key, ""))
    return join_cells(columns, cells)


def line_width(columns: list[Column]) -> int:
    return sum(c.width for c in columns) + 2 * CELL_PADDING * max(0, len(columns) - 1)
