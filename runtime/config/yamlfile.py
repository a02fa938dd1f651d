"""Safe YAML loading that remembers line numbers and reads CloudFormation tags.

Config errors must say which line: mappings load as `LineMap`, a dict that
also knows the line of each key. CloudFormation short-form tags (`!Ref`,
`!Sub`, `!GetAtt`, ...) load as their long form (`{"Ref": ...}`,
`{"Fn::Sub": ...}`) so the template loader can resolve them; nothing here can
construct arbitrary Python objects (SafeLoader underneath).
"""

from __future__ import annotations

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


class _LineLoader(yaml.SafeLoader):
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


def load_yaml(path: Path) -> Any:
    """Read one YAML file; a syntax error becomes a ConfigError with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("file not found", path=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", path=str(path), line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=str(path)) from exc
