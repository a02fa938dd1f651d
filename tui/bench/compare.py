"""`lambdatop bench --compare EARLIER.json`: how each figure moved since an earlier run.

Absolute timings move with the machine and its load, so a figure is compared by
its ratio to its own same-run baseline where it has one (that ratio is what the
targets judge); a figure without a baseline is compared by its value. A change
within `NOISE` either way is called noise: single bench runs on a shared machine
spread that much (see the README's performance section).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from lambdatop.tui.bench.results import BenchReport, Figure

NOISE = 0.10  # ±10 %: what repeats of one scenario spread on an idle 2-core machine
# Figures whose bigger number is the better one (rates, counts held at once); every other one is a cost.
HIGHER_IS_BETTER_UNITS = frozenset({"inv/s", "envs"})


class Movement(Enum):
    BETTER = "better"
    WORSE = "worse"
    NOISE = "within noise"
    NEW = "new"  # not in the earlier run
    GONE = "not measured now"  # in the earlier run, failed or skipped now


@dataclass(frozen=True, slots=True)
class Comparison:
    """One figure, then and now, by the number its target judges (the ratio, else the value)."""

    scenario: str
    figure: str
    measure: str  # "ratio" or the unit
    earlier: float | None
    now: float | None
    movement: Movement

    @property
    def change(self) -> float | None:
        """now / earlier − 1 (+0.25 is 25 % up), None where either is missing."""
        if self.earlier is None or self.now is None or self.earlier == 0:
            return None
        return self.now / self.earlier - 1

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "figure": self.figure, "measure": self.measure, "earlier": self.earlier,
                "now": self.now, "change": self.change, "movement": self.movement.value}


class EarlierReportUnreadable(Exception):
    """The `--compare` file is not a bench report written by `lambdatop bench --json`."""


def load_figures(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The earlier run's figures by (scenario, figure); raises EarlierReportUnreadable with what is wrong."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EarlierReportUnreadable(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EarlierReportUnreadable(f"{path} is not JSON: {exc}") from exc
    scenarios = document.get("scenarios") if isinstance(document, dict) else None
    if not isinstance(scenarios, dict):
        raise EarlierReportUnreadable(f"{path} is not a `lambdatop bench --json` report (no \"scenarios\" object)")
    return {(str(f.get("scenario")), str(f.get("figure"))): f
            for figures in scenarios.values() if isinstance(figures, list) for f in figures if isinstance(f, dict)}


def compare(report: BenchReport, earlier: dict[tuple[str, str], dict[str, Any]]) -> list[Comparison]:
    """Every figure of this run beside the same figure of the earlier one, then the earlier ones not measured now."""
    out: list[Comparison] = []
    seen: set[tuple[str, str]] = set()
    for figure in report.figures:
        key = (figure.scenario, figure.figure)
        seen.add(key)
        before = earlier.get(key)
        if figure.error or figure.skipped:
            if before is not None:
                out.append(Comparison(*key, _measure(before), _judged(before), None, Movement.GONE))
            continue
        now = figure.ratio if figure.ratio is not None else figure.headline
        if before is None:
            out.append(Comparison(*key, "ratio" if figure.ratio is not None else figure.unit, None, now, Movement.NEW))
            continue
        then = before.get("ratio") if figure.ratio is not None else _headline(before)
        out.append(Comparison(*key, "ratio" if figure.ratio is not None else figure.unit, _number(then), now,
                              _movement(figure, _number(then), now)))
    out.extend(Comparison(*key, _measure(f), _judged(f), None, Movement.GONE) for key, f in earlier.items() if key not in seen)
    return out


def _movement(figure: Figure, then: float | None, now: float | None) -> Movement:
    if then is None or now is None or then == 0:
        return Movement.NEW
    change = now / then - 1
    if abs(change) <= NOISE:
        return Movement.NOISE
    higher_is_better = figure.unit in HIGHER_IS_BETTER_UNITS or figure.target.lstrip().startswith("≥")
    return Movement.BETTER if (change > 0) == higher_is_better else Movement.WORSE


def _measure(figure: dict[str, Any]) -> str:
    return "ratio" if _number(figure.get("ratio")) is not None else str(figure.get("unit", ""))


def _judged(figure: dict[str, Any]) -> float | None:
    ratio = _number(figure.get("ratio"))
    return ratio if ratio is not None else _headline(figure)


def _headline(figure: dict[str, Any]) -> float | None:
    p50 = _number(figure.get("p50"))
    return p50 if p50 is not None else _number(figure.get("value"))


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
