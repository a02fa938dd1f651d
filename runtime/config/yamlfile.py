"""Safe YAML loading that remembers line numbers and reads CloudFormation tags.

Config errors must say which line: mappings load as `LineMap`, a dict that
also knows the line of each key. CloudFormation short-form tags (`!Ref`,
`!Sub`, `!GetAtt`, ...) load as their long form (`{"Ref": ...}`,
`{"Fn::Sub": ...}`) so the template loader can resolve them; nothing here can
construct arbitrary Python objects (SafeLoader underneath).

A document is bounded before anything walks it (`DocumentLimits`): its size,
how many nodes it expands to once aliases are followed, how many alias
references that takes, and how deep it nests. Safe loading alone does not stop
a billion-laughs document: the loader shares one object per anchor, but every
reader after it (the intrinsic resolver, merging Globals) copies each alias.
libyaml's C parser is used when PyYAML has it (about ten times faster on large
templates); its nodes carry the same marks, so line numbers are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lambdatop.runtime.errors import ConfigError


class LineMap(dict):
    """A mapping from YAML that knows its own line and the line of each key."""

    line: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int | None:
        return self.lines.get(key, self.line)


def line_of(mapping: Any, key: Any) -> int | None:
    """The line of `key` in a mapping read from YAML; None for a mapping built in code."""
    return mapping.line_of(key) if isinstance(mapping, LineMap) else None


@dataclass(frozen=True)
class DocumentLimits:
    """The most a config file may hold; far above any real template (a 5 MB one is ~300k nodes)."""

    max_bytes: int = 32 * 1024 * 1024
    max_nodes: int = 2_000_000  # counted with every alias expanded
    max_alias_expansions: int = 100_000  # alias references, counted inside expanded aliases too
    max_depth: int = 100  # nesting of mappings and sequences; the resolver recurses on it


LIMITS = DocumentLimits()

# SafeLoader's C twin when PyYAML was built with libyaml; both resolve the same tags.
_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    mapping = LineMap()
    mapping.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        # Keys are names in every file we read: `off:` or `1:` must stay the text written, not False or 1.
        if isinstance(key_node, yaml.ScalarNode):
            key = key_node.value
        else:
            key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            raise ConfigError("a mapping key must be a plain value", line=key_node.start_mark.line + 1) from exc
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_cfn_tag(loader: _LineLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = _construct_mapping(loader, node)
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    key = tag_suffix if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
    long_form = LineMap({key: value})
    long_form.line = node.start_mark.line + 1
    return long_form


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_multi_constructor("!", _construct_cfn_tag)


def _read_bounded(path: Path, limits: DocumentLimits) -> str:
    try:
        if not path.is_file() and path.exists():
            raise ConfigError("not a regular file", path=str(path))  # a FIFO would block the read forever
        with open(path, "rb") as handle:
            data = handle.read(limits.max_bytes + 1)
    except FileNotFoundError as exc:
        raise ConfigError("file not found", path=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    if len(data) > limits.max_bytes:
        raise ConfigError(f"document too large: over {limits.max_bytes // (1024 * 1024)} MB "
                          "(the size limit for a config file)", path=str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", path=str(path)) from exc


class _Tally:
    """Sizes the document from its event stream: no recursion, nothing built, aliases counted expanded."""

    def __init__(self, path: Path, limits: DocumentLimits) -> None:
        self.path, self.limits = path, limits
        self.nodes = 0
        self.aliases = 0
        # One frame per open collection: (anchor, nodes and alias references counted when it opened).
        self.open: list[tuple[str | None, int, int]] = []
        self.anchors: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, alias references) it expands to

    def fail(self, what: str, event: yaml.Event) -> ConfigError:
        return ConfigError(f"document too large: {what}", path=str(self.path), line=_line(event))

    def add(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise ConfigError(f"alias *{event.anchor} refers to its own anchor or to none",
                                  path=str(self.path), line=_line(event))
            nodes, aliases = self.anchors[event.anchor]
            self.nodes += nodes
            self.aliases += aliases + 1
        elif isinstance(event, yaml.ScalarEvent):
            self.nodes += 1
            if event.anchor is not None:
                self.anchors[event.anchor] = (1, 0)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self.nodes += 1
            self.open.append((event.anchor, self.nodes - 1, self.aliases))
            if len(self.open) > self.limits.max_depth:
                raise self.fail(f"nested more than {self.limits.max_depth} levels deep", event)
            if event.anchor is not None:
                self.anchors.pop(event.anchor, None)  # a redefined anchor is open again: no alias to it yet
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            anchor, nodes_before, aliases_before = self.open.pop()
            if anchor is not None:
                self.anchors[anchor] = (self.nodes - nodes_before, self.aliases - aliases_before)
        else:
            return
        if self.aliases > self.limits.max_alias_expansions:
            raise self.fail(f"aliases expand more than {self.limits.max_alias_expansions:,} times", event)
        if self.nodes > self.limits.max_nodes:
            raise self.fail(f"more than {self.limits.max_nodes:,} nodes once aliases are expanded", event)


def _line(event: yaml.Event) -> int | None:
    return event.start_mark.line + 1 if event.start_mark is not None else None


def _check_bounds(text: str, path: Path, limits: DocumentLimits) -> None:
    tally = _Tally(path, limits)
    for event in yaml.parse(text, Loader=_BaseLoader):
        tally.add(event)


def load_yaml(path: Path, limits: DocumentLimits = LIMITS) -> Any:
    """Read one YAML file within `limits`; a syntax error or a limit hit becomes a ConfigError with its line."""
    text = _read_bounded(path, limits)
    try:
        _check_bounds(text, path, limits)
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", path=str(path), line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=str(path)) from exc
