"""Project-level test events: SAM apps keep them in `events/` next to template.yaml (`sam local invoke -e
events/event.json`); `invoke` with no --event, `events list -f`, the dashboard's `i` and the `e` picker offer
them after the function folder's own."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import TextArea

from lambdatop.runtime.services import ServiceOptions
from lambdatop.tui.app import LambdatopApp
from lambdatop.tui.screens.event_editor import EventEditorScreen
from lambdatop.tui.widgets.functions_table import FunctionsTable

from .tui_pilot import quit_and_check, shown, started, wait_for
from tests.support import lambdatop

ECHO = "def handler(event, context):\n    return event\n"


def project(root: Path) -> Path:
    function = """\
  {name}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {code}/
      Handler: app.handler
      Runtime: python3.11
"""
    template = "Transform: AWS::Serverless-2016-10-31\nResources:\n" + "".join(
        function.format(name=name, code=code) for name, code in (("Shared", "shared"), ("Named", "shared"), ("Own", "own")))
    files = {
        "template.yaml": template,
        "shared/app.py": ECHO,
        "own/app.py": ECHO,
        "own/events/basic.json": '{"from": "own folder"}',
        "events/event.json": '{"from": "project event.json"}',
        "events/Named.json": '{"from": "project Named.json"}',
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root / "template.yaml"


def test_invoke_without_event_takes_the_projects_events(tmp_path: Path) -> None:
    project(tmp_path)
    answers = {}
    for name in ("Shared", "Named", "Own"):
        done = lambdatop("invoke", name, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        answers[name] = json.loads(done.stdout)["from"]
    assert answers == {"Shared": "project event.json", "Named": "project Named.json", "Own": "own folder"}


def test_events_list_names_the_projects_events_too(tmp_path: Path) -> None:
    project(tmp_path)
    done = lambdatop("events", "list", "-f", "Own", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["function_events"] == [
        str(tmp_path / "own/events/basic.json"), str(tmp_path / "events/Named.json"), str(tmp_path / "events/event.json"),
    ]


async def test_i_and_the_e_picker_offer_the_projects_events(tmp_path: Path) -> None:
    app = LambdatopApp(project(tmp_path), options=ServiceOptions(port=None, watch=False, store=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        table = app.screen.query_one(FunctionsTable)
        table.select_function("Shared")
        await pilot.press("i")
        await wait_for(pilot, lambda: app.activity.latest_result("Shared") is not None, what="the invocation")
        result = app.activity.latest_result("Shared")
        assert result is not None and json.loads(result.response) == {"from": "project event.json"}

        table.select_function("Own")
        await pilot.press("e")
        await shown(pilot, EventEditorScreen, "the picker")
        screen = app.screen
        assert isinstance(screen, EventEditorScreen)
        saved = [(c.group, c.label) for c in screen.choices if c.group in ("function", "project")]
        assert saved == [("function", "events/basic.json"), ("project", "events/Named.json"), ("project", "events/event.json")]
        assert json.loads(screen.query_one("#event-text", TextArea).text) == {"from": "own folder"}
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EventEditorScreen), what="the picker closed")
        await quit_and_check(pilot)
