"""Sample events for the common AWS sources, in the shapes AWS documents.

The templates live as JSON files in `event_templates/` (shipped as package
data). Each holds a description, the parameters a user may override (with
defaults, so a template with no arguments is a complete event) and the event
itself, whose strings may hold placeholders:

    "{{name}}"            the parameter's value (a whole-string placeholder of an
                          `integer` or `json` parameter becomes that value, not a string)
    "{{base64:name}}"     the value base64-encoded (Kinesis data)
    "{{md5:name}}"        the hex MD5 of the value (SQS md5OfBody)
    "{{urlquote:name}}"   the value URL-encoded (S3 object keys)

`lambdatop events generate` prints them; the dashboard's `e` picker offers them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.parse
from dataclasses import dataclass
from importlib import resources
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{(?:(base64|md5|urlquote):)?([A-Za-z0-9_-]+)\}\}")


class UnknownTemplate(LookupError):
    """No template has that name or alias."""


class BadTemplateValue(ValueError):
    """A parameter value that is not what the template needs (unknown name, not an integer, not JSON)."""


@dataclass(frozen=True, slots=True)
class TemplateParam:
    name: str
    default: str
    help: str
    type: str = "string"  # string | integer | json


@dataclass(frozen=True, slots=True)
class EventTemplate:
    name: str
    description: str
    aliases: tuple[str, ...]
    params: dict[str, TemplateParam]
    body: Any

    def render(self, values: dict[str, str] | None = None) -> Any:
        """The event with `values` (parameter name -> text) in place of the defaults."""
        given = dict(values or {})
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            known = ", ".join(f"--{p}" for p in self.params) or "none"
            raise BadTemplateValue(f"{self.name}: unknown parameter {', '.join('--' + u for u in unknown)} (known: {known})")
        typed: dict[str, Any] = {}
        for name, param in self.params.items():
            text = given.get(name, param.default)
            typed[name] = _convert(self.name, param, text)
        return _substitute(self.body, typed)

    def render_json(self, values: dict[str, str] | None = None, indent: int | None = 2) -> str:
        return json.dumps(self.render(values), indent=indent)


def _convert(template: str, param: TemplateParam, text: str) -> Any:
    if param.type == "integer":
        try:
            return int(text)
        except ValueError:
            raise BadTemplateValue(f"{template}: --{param.name} must be an integer, got {text!r}") from None
    if param.type == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise BadTemplateValue(f"{template}: --{param.name} must be JSON ({exc})") from None
    return text


def _substitute(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {key: _substitute(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute(item, values) for item in node]
    if not isinstance(node, str) or "{{" not in node:
        return node
    whole = _PLACEHOLDER.fullmatch(node)
    if whole and whole.group(1) is None:
        return values[whole.group(2)]  # keeps integers and JSON values typed

    def one(match: re.Match[str]) -> str:
        function, name = match.group(1), match.group(2)
        value = values[name]
        text = value if isinstance(value, str) else json.dumps(value)
        if function == "base64":
            return base64.b64encode(text.encode()).decode()
        if function == "md5":
            return hashlib.md5(text.encode()).hexdigest()  # SQS's own checksum, not security
        if function == "urlquote":
            return urllib.parse.quote_plus(text, safe="")
        return text

    return _PLACEHOLDER.sub(one, node)


_cache: dict[str, EventTemplate] | None = None


def load_templates() -> dict[str, EventTemplate]:
    """Every bundled template by name, sorted by name."""
    global _cache
    if _cache is None:
        folder = resources.files("lambdatop.tui").joinpath("event_templates")
        found: dict[str, EventTemplate] = {}
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".json"):
                continue
            data = json.loads(entry.read_text(encoding="utf-8"))
            name = entry.name[: -len(".json")]
            params = {
                key: TemplateParam(key, str(spec.get("default", "")), spec.get("help", ""), spec.get("type", "string"))
                for key, spec in data.get("params", {}).items()
            }
            found[name] = EventTemplate(name, data.get("description", ""), tuple(data.get("aliases", ())), params, data["event"])
        _cache = found
    return _cache


def find_template(name: str) -> EventTemplate:
    """The template called `name` (or with that alias); `s3 put` and `s3-put` are the same name."""
    wanted = "-".join(name.lower().replace("_", "-").split())
    templates = load_templates()
    if wanted in templates:
        return templates[wanted]
    for template in templates.values():
        if wanted in template.aliases:
            return template
    raise UnknownTemplate(f"no event template {name!r} (see `lambdatop events list`)")


def api_route_event(method: str, path: str, *, payload_version: str, stage: str) -> Any:
    """The API Gateway template for a route, filled with its method and path (`{id}` → `1`, `{proxy+}` → `a/b`).

    Payload 1.0 (REST, or HTTP with PayloadFormatVersion 1.0) uses `apigateway-aws-proxy`, 2.0 uses
    `apigateway-http-api-proxy`; `$default` becomes `GET /`.
    """
    if path == "$default":
        method, path = ("GET" if method == "ANY" else method), "/"
    method = "GET" if method == "ANY" else method
    parameters = {}
    for segment in path.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parameters[segment[1:-2]] = "a/b"
        elif segment.startswith("{") and segment.endswith("}"):
            parameters[segment[1:-1]] = "1"
    concrete = re.sub(r"\{([^}+]+)\+?\}", lambda m: parameters[m.group(1)], path)
    values = {"method": method, "path": concrete, "stage": stage, "body": ""}
    if payload_version == "1.0":
        event = find_template("apigateway-aws-proxy").render(values)
        event["resource"] = path
        event["pathParameters"] = parameters or None
        event["requestContext"]["resourcePath"] = path
        event["requestContext"]["httpMethod"] = method
        event["body"] = None
        return event
    event = find_template("apigateway-http-api-proxy").render({**values, "query": ""})
    route_key = f"{method} {path}" if path != "/" or parameters else "$default"
    event["routeKey"] = event["requestContext"]["routeKey"] = route_key
    event["pathParameters"] = parameters
    event.pop("body", None)
    return event
