"""CloudFormation intrinsic functions, resolved as far as a local run can.

What depends only on the template (parameters' defaults, pseudo parameters,
mappings, conditions, other functions' ARNs) is resolved. What needs a
deployed stack (a bucket's generated name, an imported value) resolves to the
local resource once the AWS services sidecar has created it (`resource_names`,
`resource_attributes`), and otherwise becomes a readable placeholder such as
`<GetAtt Table.Arn>` instead of crashing the load.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from typing import Any

from lambdatop.runtime.errors import ConfigError

_NO_VALUE = object()  # AWS::NoValue: the enclosing key disappears
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class IntrinsicResolver:
    """Resolves intrinsic functions in parsed template values."""

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        pseudo: Mapping[str, Any],  # strings, and AWS::NotificationARNs a list
        mappings: Mapping[str, Any],
        conditions: Mapping[str, Any],
        function_arns: Mapping[str, str],
        resource_names: Mapping[str, str],
        resource_attributes: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        self._parameters = parameters
        self._pseudo = pseudo
        self._mappings = mappings
        self._conditions = conditions
        self._function_arns = function_arns
        self._resource_names = resource_names
        # (logical id, attribute) -> value, once the resources exist (the AWS services sidecar's stack)
        self._resource_attributes = resource_attributes or {}
        self._evaluating: set[str] = set()  # conditions being evaluated: one that needs itself would recurse forever
        self._handlers: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::Sub": self._sub,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::FindInMap": self._find_in_map,
            "Fn::If": self._if,
            "Fn::Base64": self._base64,
            "Fn::Equals": self._equals,
            "Fn::Not": lambda v: not self._truth(self.resolve(v)[0]),
            "Fn::And": lambda v: all(self._truth(self.resolve(x)) for x in v),
            "Fn::Or": lambda v: any(self._truth(self.resolve(x)) for x in v),
            "Condition": lambda v: self.condition(str(v)),
            "Fn::GetAZs": lambda v: [f"{self._pseudo['AWS::Region']}{z}" for z in "abc"],
        }

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside `value`; keys whose value is AWS::NoValue are dropped."""
        if isinstance(value, Mapping):
            if len(value) == 1:
                (key, arg), = value.items()
                if key in self._handlers:
                    return self._handlers[key](arg)
                if isinstance(key, str) and key.startswith("Fn::"):
                    return f"<{key[4:]} {self._describe(arg)}>"
            resolved: Any = type(value)() if isinstance(value, dict) else {}
            source: Any = value
            if hasattr(source, "lines"):
                resolved.lines = source.lines  # keep line numbers for error messages
                resolved.line = source.line
            for key, item in value.items():
                result = self.resolve(item)
                if result is not _NO_VALUE:
                    resolved[key] = result
            return resolved
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not _NO_VALUE]
        return value

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            return False
        if name in self._evaluating:
            raise ConfigError(f"condition {name} depends on itself", key=f"Conditions.{name}")
        self._evaluating.add(name)
        try:
            return self._truth(self.resolve(self._conditions[name]))
        finally:
            self._evaluating.discard(name)

    # -- the functions -----------------------------------------------------

    def _ref(self, name: Any) -> Any:
        name = str(name)
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._parameters:
            return self._parameters[name]
        if name in self._resource_names:
            return self._resource_names[name]
        return f"<Ref {name}>"

    def _get_att(self, arg: Any) -> Any:
        if isinstance(arg, list) and len(arg) == 2:
            resource, attribute = str(arg[0]), str(self.resolve(arg[1]))
            if resource in self._function_arns and attribute == "Arn":
                return self._function_arns[resource]
            if (resource, attribute) in self._resource_attributes:
                return self._resource_attributes[(resource, attribute)]
            return f"<GetAtt {resource}.{attribute}>"
        return f"<GetAtt {self._describe(arg)}>"

    def _sub(self, arg: Any) -> Any:
        if isinstance(arg, list) and len(arg) == 2:
            template, local = arg[0], self.resolve(arg[1]) or {}
        else:
            template, local = arg, {}
        if not isinstance(template, str):
            return f"<Sub {self._describe(arg)}>"

        def substitute(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in local:
                return str(local[token])
            if "." in token and not token.startswith("AWS::"):
                return str(self._get_att(token.split(".", 1)))
            return str(self._ref(token))

        return _SUB_VARIABLE.sub(substitute, template)

    def _join(self, arg: Any) -> Any:
        delimiter, items = arg
        items = self.resolve(items)
        return str(delimiter).join(str(i) for i in items) if isinstance(items, list) else str(items)

    def _select(self, arg: Any) -> Any:
        index, items = self.resolve(arg[0]), self.resolve(arg[1])
        try:
            return items[int(index)]
        except (IndexError, ValueError, TypeError):
            return f"<Select {index}>"

    def _split(self, arg: Any) -> Any:
        delimiter, text = arg[0], self.resolve(arg[1])
        return str(text).split(str(delimiter))

    def _find_in_map(self, arg: Any) -> Any:
        name, first, second = (str(self.resolve(a)) for a in arg)
        try:
            return self._mappings[name][first][second]
        except (KeyError, TypeError):
            return f"<FindInMap {name}.{first}.{second}>"

    def _if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(str(name)) else when_false)

    def _base64(self, arg: Any) -> Any:
        return base64.b64encode(str(self.resolve(arg)).encode()).decode()

    def _equals(self, arg: Any) -> bool:
        left, right = (self.resolve(a) for a in arg)
        return str(left) == str(right)

    @staticmethod
    def _truth(value: Any) -> bool:
        return value is True or str(value).lower() == "true"

    @staticmethod
    def _describe(arg: Any) -> str:
        if isinstance(arg, list):
            return ".".join(str(a) for a in arg)
        return str(arg)
