"""The `e` screen: pick an event (the function's own events/*.json, a recent invocation's
event, or a template for an AWS source), edit the JSON, invoke.

Moving through the list previews each event in the editor until you type in
it; Enter loads the highlighted one and moves to the editor; ctrl+s invokes
with what the editor holds. Invalid JSON is reported under the editor, with
its line and column, and nothing is sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static, TextArea
from textual.widgets.option_list import Option

from lambdatop.runtime.records import InvocationResult
from lambdatop.runtime.snapshot import RouteView
from lambdatop.tui.commands.common import default_event_path, saved_events
from lambdatop.tui.key_invocations import pretty_json
from lambdatop.tui.sample_events import api_route_event, load_templates
from lambdatop.tui.widgets.cells import STATUS_LABEL


LABEL_WIDTH = 90  # one line per choice in the 100-column dialog (less on a narrow terminal)


@dataclass(frozen=True, slots=True)
class EventChoice:
    label: str
    group: str  # "function", "invocation", "api route" or "template"
    load: Callable[[], str]
    detail: str = ""  # shown dimmed after the label, cut to the dialog's width


def _route_event(route: RouteView) -> str:
    """The API Gateway event a route's requests arrive as, filled with its method and path."""
    return json.dumps(api_route_event(route.method, route.path, payload_version=route.payload_version, stage=route.stage),
                      indent=2)


def event_choices(
    event_dirs: Sequence[Path] | Path, invocation: InvocationResult | None, routes: Sequence[RouteView] = (), function: str = "",
) -> tuple[list[EventChoice], int]:
    """What the list offers, and which one starts in the editor: the selected invocation's event (if
    any), an event for each API route of the function (the first one starts when there is no invocation),
    the function's events/*.json then the project's (the default one first when nothing came before), the templates."""
    dirs = [event_dirs] if isinstance(event_dirs, Path) else list(event_dirs)
    choices: list[EventChoice] = []
    initial = 0
    if invocation is not None:
        record = invocation.record
        label = f"event of {record.request_id[:8]} ({STATUS_LABEL.get(record.status, record.status)})"
        choices.append(EventChoice(label, "invocation", lambda: pretty_json(invocation.request)))
    for route in routes:
        choices.append(EventChoice(f"{route.route_key} ({route.api})", "api route", partial(_route_event, route)))
    default = default_event_path(dirs, function)
    for path in saved_events(dirs):
        if path == default and not choices:
            initial = len(choices)
        group = "function" if path.parent == dirs[0] else "project"
        choices.append(EventChoice(f"events/{path.name}", group, partial(path.read_text, encoding="utf-8")))
    for template in load_templates().values():
        choices.append(EventChoice(f"{template.name:<26}", "template", template.render_json,
                                   detail=template.description))
    return choices, initial


class EventEditorScreen(ModalScreen[bytes | None]):
    BINDINGS = [
        Binding("ctrl+s", "invoke", "Invoke", priority=True),
        Binding("ctrl+f", "format", "Format JSON", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, function: str, choices: list[EventChoice], initial: int = 0) -> None:
        super().__init__()
        self.function = function
        self.choices = choices
        self.initial = initial
        self._loaded_text = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="event-dialog", classes="dialog"):
            options = []
            width = max(30, min(LABEL_WIDTH, self.app.size.width - 10))
            for index, choice in enumerate(self.choices):
                label = Text(no_wrap=True, overflow="ellipsis")
                label.append(f"{choice.group:<11}", style={"function": "bold green", "project": "green", "invocation": "bold cyan", "api route": "bold magenta"}.get(choice.group, "dim"))
                label.append(choice.label)
                if choice.detail:
                    label.append(f"  {choice.detail}", style="dim")
                label.truncate(width, overflow="ellipsis")
                options.append(Option(label, id=str(index)))
            yield OptionList(*options, id="event-choices")
            yield TextArea("", id="event-text", soft_wrap=False, show_line_numbers=True, tab_behavior="indent")
            yield Static("", id="event-status")
            yield Static("[dim]↑↓ preview · enter edit · tab switch · ctrl+s invoke · ctrl+f format · esc cancel[/dim]")

    def on_mount(self) -> None:
        self.query_one("#event-dialog").border_title = f"invoke {self.function} with an event"
        choices = self.query_one("#event-choices", OptionList)
        if self.choices:
            choices.highlighted = min(self.initial, len(self.choices) - 1)
            self._load(choices.highlighted)
        else:
            self._set_text("{}")
        choices.focus()

    # -- loading ----------------------------------------------------------------------

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        editor = self.query_one("#event-text", TextArea)
        if editor.text == self._loaded_text:  # never throw away the user's edits on a mere cursor move
            self._load(event.option_index)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._load(event.option_index)
        self.query_one("#event-text", TextArea).focus()

    def _load(self, index: int | None) -> None:
        if index is None or not 0 <= index < len(self.choices):
            return
        try:
            text = self.choices[index].load()
        except OSError as exc:
            self._status(f"cannot read {self.choices[index].label}: {exc.strerror or exc}", error=True)
            return
        self._set_text(text)

    def _set_text(self, text: str) -> None:
        self._loaded_text = text
        self.query_one("#event-text", TextArea).load_text(text)
        self._validate()

    # -- checking and sending ---------------------------------------------------------

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._validate()

    def _validate(self) -> bool:
        text = self.query_one("#event-text", TextArea).text
        try:
            json.loads(text)
        except ValueError as exc:
            line = getattr(exc, "lineno", None)
            column = getattr(exc, "colno", None)
            where = f" at line {line}, column {column}" if line else ""
            self._status(f"invalid JSON{where}: {getattr(exc, 'msg', exc)}", error=True)
            return False
        self._status(f"valid JSON · {len(text.encode())} bytes", error=False)
        return True

    def _status(self, message: str, *, error: bool) -> None:
        self.query_one("#event-status", Static).update(Text(message, style="bold red" if error else "green"))

    def action_format(self) -> None:
        editor = self.query_one("#event-text", TextArea)
        try:
            data = json.loads(editor.text)
        except ValueError:
            self._validate()
            return
        editor.load_text(json.dumps(data, indent=2))
        self._validate()

    def action_invoke(self) -> None:
        if not self._validate():
            self.query_one("#event-text", TextArea).focus()
            return
        self.dismiss(self.query_one("#event-text", TextArea).text.encode())

    def action_cancel(self) -> None:
        self.dismiss(None)
