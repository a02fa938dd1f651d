"""FilterCriteria and EventBridge event patterns, matched with EventBridge's own rules.

Lambda's FilterCriteria use the EventBridge pattern syntax (prefix, numeric,
exists, anything-but...). moto implements that matcher; lambdatop reuses it
rather than keep a second copy of the rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast


@dataclass(frozen=True)
class EventFilter:
    """Any of `patterns` matches (Lambda ORs the filters of a FilterCriteria); no pattern matches everything."""

    patterns: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_criteria(cls, criteria: Any) -> EventFilter:
        """From a mapping's `FilterCriteria: {Filters: [{Pattern: '<json>'}]}` (Pattern as JSON text or a mapping)."""
        if not isinstance(criteria, Mapping):
            return cls()
        filters = criteria.get("Filters") or ()
        return cls(tuple(_pattern(f.get("Pattern")) for f in filters if isinstance(f, Mapping) and f.get("Pattern")))

    @classmethod
    def of_pattern(cls, pattern: Any) -> EventFilter:
        return cls((_pattern(pattern),)) if pattern else cls()

    def matches(self, event: Mapping[str, Any]) -> bool:
        if not self.patterns:
            return True
        from moto.events.models import EventPattern  # imported only when a filter exists: it loads moto's events

        return any(EventPattern(None, dict(p)).matches_event(cast(Any, dict(event))) for p in self.patterns)  # cast: moto types events as its own TypedDict


def _pattern(value: Any) -> Mapping[str, Any]:
    if isinstance(value, str):
        return json.loads(value)
    return json.loads(json.dumps(value))


def with_json_body(record: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A record as the filter sees it: a body (`body`, `data`) that is JSON is matched as data, else as text."""
    view = dict(record)
    value = view.get(key)
    if isinstance(value, str):
        try:
            view[key] = json.loads(value)
        except ValueError:
            pass
    return view


def split_by(items: Sequence[Any], keep: Any) -> tuple[list[Any], list[Any]]:
    kept: list[Any] = []
    dropped: list[Any] = []
    for item in items:
        (kept if keep(item) else dropped).append(item)
    return kept, dropped
