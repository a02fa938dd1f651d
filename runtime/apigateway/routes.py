"""The route table: which route a method and path reach, by API Gateway's rules.

- A path is matched segment by segment: a literal segment (`/pets`) beats a
  path parameter (`/{id}`), which beats a greedy one (`/{proxy+}`, the last
  segment, matching one or more segments). The most specific match wins,
  compared from the left; then an exact method beats `ANY`.
- An HTTP API's `$default` route catches what no other route of it does.
- A trailing slash is not significant (`/hello/` reaches `/hello`).

Every API of the template shares the one API port, so routes of all of them
live in one table; a method + path declared twice is kept once (the first
one) and reported in `conflicts`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lambdatop.runtime.apigateway.model import ANY, DEFAULT_ROUTE, ApiKind, Route

_LITERAL, _PARAMETER, _GREEDY = 0, 1, 2


@dataclass(frozen=True)
class Match:
    route: Route
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _Compiled:
    route: Route
    segments: tuple[str, ...]
    ranks: tuple[int, ...]


def split_path(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.strip("/").split("/") if part) if path.strip("/") else ()


def _rank(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return _GREEDY
    if segment.startswith("{") and segment.endswith("}"):
        return _PARAMETER
    return _LITERAL


def _compile(route: Route) -> _Compiled:
    segments = split_path(route.path)
    return _Compiled(route, segments, tuple(_rank(s) for s in segments))


def _bind(compiled: _Compiled, parts: tuple[str, ...]) -> dict[str, str] | None:
    """The path parameters if `parts` matches the route's path, else None."""
    parameters: dict[str, str] = {}
    for index, (segment, rank) in enumerate(zip(compiled.segments, compiled.ranks, strict=True)):
        if rank == _GREEDY:
            rest = parts[index:]
            if not rest:
                return None  # {proxy+} needs at least one segment
            parameters[segment[1:-2]] = "/".join(rest)
            return parameters
        if index >= len(parts):
            return None
        if rank == _PARAMETER:
            parameters[segment[1:-1]] = parts[index]
        elif segment != parts[index]:
            return None
    return parameters if len(parts) == len(compiled.segments) else None


@dataclass
class RouteTable:
    routes: list[Route] = field(default_factory=list)
    conflicts: list[tuple[Route, Route]] = field(default_factory=list)  # (kept, dropped)

    def __post_init__(self) -> None:
        given, self.routes = self.routes, []
        self._compiled: list[_Compiled] = []
        self._defaults: list[Route] = []
        for route in given:
            self.add(route)

    @classmethod
    def of(cls, routes: Iterable[Route]) -> RouteTable:
        return cls(list(routes))

    def add(self, route: Route) -> None:
        for kept in self.routes:
            if kept.method == route.method and split_path(kept.path) == split_path(route.path):
                self.conflicts.append((kept, route))
                return
        self.routes.append(route)
        if route.path == DEFAULT_ROUTE:
            self._defaults.append(route)
        else:
            self._compiled.append(_compile(route))

    def match(self, method: str, path: str) -> Match | None:
        """The route `method path` reaches, with its path parameters; None when nothing matches."""
        parts = split_path(path)
        best: tuple[tuple[int, ...], int, int, Match] | None = None
        for order, compiled in enumerate(self._compiled):
            route = compiled.route
            if route.method not in (method, ANY):
                continue
            parameters = _bind(compiled, parts)
            if parameters is None:
                continue
            # Lower is more specific: the ranks left to right, then the exact method before ANY.
            key = (compiled.ranks, 0 if route.method == method else 1, order)
            if best is None or key < best[:3]:
                best = (*key, Match(route, parameters))
        if best is not None:
            return best[3]
        return Match(self._defaults[0], {}) if self._defaults else None

    def has_path(self, path: str) -> bool:
        """True when some route (any method) has this path: a wrong method, not an unknown path."""
        parts = split_path(path)
        return any(_bind(compiled, parts) is not None for compiled in self._compiled)

    def methods_at(self, path: str) -> list[str]:
        """The methods routes declare at `path` (for CORS preflight answers)."""
        parts = split_path(path)
        return sorted({c.route.method for c in self._compiled if _bind(c, parts) is not None})

    def api_at(self, path: str) -> Route | None:
        """Some route whose path matches (any method): whose API's rules apply to a request there."""
        parts = split_path(path)
        for compiled in self._compiled:
            if _bind(compiled, parts) is not None:
                return compiled.route
        return None

    @property
    def kinds(self) -> set[ApiKind]:
        return {route.api.kind for route in self.routes}
