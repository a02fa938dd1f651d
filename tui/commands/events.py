"""`lambdatop events`: sample events for the common AWS sources, like `sam local generate-event`.

    lambdatop events list                          the templates, one a line
    lambdatop events list --function hello         plus that function's own events/*.json
    lambdatop events generate s3-put --bucket b --key photos/cat.jpg
    lambdatop events generate sqs --body '{"id": 1}' | lambdatop invoke worker --event -

`generate` accepts SAM's two-word names too (`s3 put`, `apigateway aws-proxy`)
and `--help` after the source lists that template's parameters.
"""

from __future__ import annotations

import argparse
import json
import sys

from lambdatop.tui.commands.common import (
    EXIT_OK, EXIT_USAGE, UsageError, load_or_exit, require_function, saved_events,
    template_inputs,
)
from lambdatop.tui.sample_events import BadTemplateValue, EventTemplate, UnknownTemplate, find_template, load_templates



def run(args: argparse.Namespace) -> int:
    try:
        if args.events_command == "list":
            return _list(args)
        if args.events_command == "generate":
            return _generate(args)
        args.events_parser.print_help()
        return EXIT_USAGE
    except UsageError as exc:
        print(f"lambdatop: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _list(args: argparse.Namespace) -> int:
    templates = load_templates()
    own: list[str] = []
    if args.function:
        config = load_or_exit(args.config, template_inputs(args))
        function = require_function(config, args.function)
        own = [str(p) for p in saved_events(function.event_dirs)]
    if args.json:
        print(json.dumps({
            "templates": [
                {"name": t.name, "aliases": list(t.aliases), "description": t.description,
                 "params": {p.name: {"default": p.default, "type": p.type, "help": p.help} for p in t.params.values()}}
                for t in templates.values()
            ],
            "function_events": own,
        }, indent=2))
        return EXIT_OK
    width = max(len(name) for name in templates)
    for template in templates.values():
        aliases = f" (also: {', '.join(template.aliases)})" if template.aliases else ""
        print(f"{template.name:<{width}}  {template.description}{aliases}")
    if own:
        print(f"\n{args.function}'s own events:")
        for path in own:
            print(f"  {path}")
    return EXIT_OK


def _generate(args: argparse.Namespace) -> int:
    words = [args.source] if args.source else []
    rest = list(args.params)
    # SAM spells sources as two words (`s3 put`): take leading bare words as part of the name.
    while rest and not rest[0].startswith("-"):
        words.append(rest.pop(0))
    if not words or words[0] in ("-h", "--help"):
        print("usage: lambdatop events generate SOURCE [--PARAM VALUE ...]\n\nsources (lambdatop events list):")
        for template in load_templates().values():
            print(f"  {template.name}")
        return EXIT_OK if words else EXIT_USAGE
    try:
        template = find_template(" ".join(words))
    except UnknownTemplate as exc:
        raise UsageError(str(exc)) from None
    if any(item in ("-h", "--help") for item in rest):
        print(_template_help(template))
        return EXIT_OK
    compact = "--compact" in rest
    values = _pairs(template, [item for item in rest if item != "--compact"])
    try:
        print(template.render_json(values, indent=None if compact else 2))
    except BadTemplateValue as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


def _pairs(template: EventTemplate, items: list[str]) -> dict[str, str]:
    """`--name value` and `--name=value` pairs into a dict."""
    values: dict[str, str] = {}
    index = 0
    while index < len(items):
        item = items[index]
        if not item.startswith("--") or item == "--":
            raise UsageError(f"{template.name}: expected --PARAM VALUE, got {item!r}")
        name, equals, value = item[2:].partition("=")
        if not equals:
            if index + 1 >= len(items):
                raise UsageError(f"{template.name}: --{name} needs a value")
            index += 1
            value = items[index]
        values[name.replace("_", "-") if name.replace("_", "-") in template.params else name] = value
        index += 1
    return values


def _template_help(template: EventTemplate) -> str:
    lines = [f"{template.name}: {template.description}", "", "parameters:"]
    width = max((len(p) for p in template.params), default=0) + 2
    for param in template.params.values():
        kind = "" if param.type == "string" else f" ({param.type})"
        lines.append(f"  --{param.name:<{width}} {param.help}{kind}; default: {param.default}")
    return "\n".join(lines)
