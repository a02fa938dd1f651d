"""Keys and what the screen shows around them (issue 12 items 9 and 11).

`?` lists every key of every screen; `l` opens the selected function's log
search and `o` picks the sort column; detail screens scroll with j/k, g/G,
ctrl+d/ctrl+u; the empty stream says how to start; the focused panel is
marked on every screen; at 80x24 a toast never covers the newest rows; the
footer's right edge shows no stray character.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets._toast import Toast

from lambdatop.runtime.services import ServiceOptions
from lambdatop.tui.app import LambdatopApp
from lambdatop.tui.screens.alarms import AlarmsScreen
from lambdatop.tui.screens.dlq import DeadLetterScreen
from lambdatop.tui.screens.function import FunctionScreen
from lambdatop.tui.screens.help import help_sections
from lambdatop.tui.screens.invocation import InvocationScreen
from lambdatop.tui.screens.log_search import LogSearchScreen
from lambdatop.tui.screens.main import MainScreen
from lambdatop.tui.screens.sort_picker import SortPicker
from lambdatop.tui.screens.tune import TuneScreen
from lambdatop.tui.widgets.functions_table import FunctionsTable
from lambdatop.tui.widgets.invocation_stream import START_HINT, InvocationStream
from lambdatop.tui.widgets.vim_table import VimTable

from .conftest import SAMPLE_TEMPLATE
from .tui_pilot import quit_and_check, screen_text, shown, started, wait_for

pytestmark = pytest.mark.timeout(90)

NAMES = {"escape": "esc", "slash": "/", "question_mark": "?", "enter": "enter"}
CHATTY = """
def handler(event, context):
    for n in range(300):
        print(f"line {n}")
    return {"lines": 300}
"""


def sample_app() -> LambdatopApp:
    return LambdatopApp(SAMPLE_TEMPLATE, options=ServiceOptions(port=None, watch=False, store=False))


def functions(app: LambdatopApp) -> FunctionsTable:
    return app.screen_stack[0].query_one("#functions", FunctionsTable)


def stream(app: LambdatopApp) -> InvocationStream:
    return app.screen_stack[0].query_one("#stream", InvocationStream)


def help_keys(title_part: str) -> set[str]:
    """Every key word written in the help section whose title contains `title_part`."""
    sections = help_sections(LambdatopApp.BINDINGS)
    rows = next(rows for title, rows in sections if title_part in title)
    return {word for keys, _ in rows for word in keys.split()}


def keys_of(bindings: list[object]) -> set[str]:
    found = set()
    for binding in bindings:
        if isinstance(binding, Binding):
            found.update(NAMES.get(key, key) for key in binding.key.split(","))
    return found


def border(widget: Widget) -> str:
    return widget.styles.border_top[0]


@pytest.mark.parametrize(("section", "bindings"), [
    ("Act on", LambdatopApp.BINDINGS),
    ("Move around", [*MainScreen.BINDINGS, *FunctionsTable.BINDINGS, *InvocationStream.BINDINGS]),
    ("dead-letter", DeadLetterScreen.BINDINGS),
    ("log search", LogSearchScreen.BINDINGS),
    ("alarms", AlarmsScreen.BINDINGS),
    ("function screen", FunctionScreen.BINDINGS),
    ("invocation screen", InvocationScreen.BINDINGS),
    ("tune screen", [*TuneScreen.BINDINGS, *VimTable.BINDINGS]),
])
def test_help_lists_every_binding_of_every_screen(section: str, bindings: list[object]) -> None:
    missing = keys_of(bindings) - help_keys(section)
    assert not missing, f"{section}: {missing} not in the help"


def test_help_names_the_keys_a_new_user_missed() -> None:
    assert "l" in help_keys("Act on")
    assert {"o", "G", "ctrl+d", "ctrl+u"} <= help_keys("Move around")
    assert {"r", "R"} <= help_keys("dead-letter")
    assert {"j", "k", "g", "G", "ctrl+d", "ctrl+u"} <= help_keys("invocation screen")


async def test_empty_stream_says_how_to_start_and_l_opens_the_selected_functions_log() -> None:
    app = sample_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        hint = app.screen.query_one("#stream-box .stream-hint")
        assert hint.display and START_HINT in str(hint.render())
        assert "i invoke · e pick an event · b burst" in START_HINT
        functions(app).select_function("hello")
        await pilot.press("i")
        await wait_for(pilot, lambda: stream(app).row_count == 1, what="the invocation in the stream")
        await wait_for(pilot, lambda: not hint.display, what="the hint hidden")

        await pilot.press("l")
        await shown(pilot, LogSearchScreen, "log search")
        logs = app.screen
        assert isinstance(logs, LogSearchScreen) and logs.function == "hello"
        assert any(entry.line.startswith("START RequestId:") for entry in logs.entries)
        await pilot.press("escape")
        await shown(pilot, MainScreen, "back")
        await quit_and_check(pilot)


async def test_o_picks_the_sort_column_from_a_list() -> None:
    app = sample_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("o")
        await shown(pilot, SortPicker, "the sort picker")
        options = app.screen.query_one("#sort-options")
        for _ in range(options.option_count):  # type: ignore[attr-defined]
            if options.highlighted_option.id == "p99":  # type: ignore[attr-defined]
                break
            await pilot.press("j")
        await pilot.press("enter")
        await shown(pilot, MainScreen, "picker closed")
        assert functions(app).sort_key == "p99"
        assert "p99 duration" in str(app.screen.query_one("#functions-box").border_title)
        await pilot.press("o", "escape")  # esc keeps the current sort
        await shown(pilot, MainScreen, "picker closed")
        assert functions(app).sort_key == "p99"
        await quit_and_check(pilot)


async def test_detail_screens_scroll_with_j_k_g_G_ctrl_d_ctrl_u(make_project: Callable[..., Path]) -> None:
    config = make_project({"chatty": CHATTY}, "functions:\n  chatty: {handler: app.handler}\n")
    app = LambdatopApp(config, options=ServiceOptions(port=None, watch=False, store=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("i")
        await wait_for(pilot, lambda: app.activity.latest_result("chatty") is not None, what="chatty ran")
        await pilot.press("tab", "enter")  # the stream, then its newest row
        await shown(pilot, InvocationScreen, "invocation screen")
        body = app.screen.query_one("#inv-body")
        await wait_for(pilot, lambda: body.max_scroll_y > 100, what="a long log laid out")
        await pilot.press("G")
        await wait_for(pilot, lambda: body.scroll_y == body.max_scroll_y, what="G: bottom")
        await pilot.press("g")
        await wait_for(pilot, lambda: body.scroll_y == 0, what="g: top")
        await pilot.press("j", "j")
        await wait_for(pilot, lambda: body.scroll_y == 2, what="j j: two lines down")
        await pilot.press("k")
        await wait_for(pilot, lambda: body.scroll_y == 1, what="k: one line up")
        await pilot.press("ctrl+d")
        half = body.scrollable_content_region.height // 2
        await wait_for(pilot, lambda: body.scroll_y == 1 + half, what="ctrl+d: half a page down")
        await pilot.press("ctrl+u")
        await wait_for(pilot, lambda: body.scroll_y == 1, what="ctrl+u: half a page up")

        await pilot.press("escape", "shift+tab", "enter")  # back to the functions table: the function screen
        await shown(pilot, FunctionScreen, "function screen")
        fn_body = app.screen.query_one("#fn-body")
        await wait_for(pilot, lambda: fn_body.max_scroll_y > 10, what="the function screen laid out")
        await pilot.press("ctrl+d")  # the environments table has the focus; the screen scrolls
        await wait_for(pilot, lambda: fn_body.scroll_y > 0, what="ctrl+d on the function screen")
        await pilot.press("G")
        await wait_for(pilot, lambda: fn_body.scroll_y == fn_body.max_scroll_y, what="G on the function screen")
        await quit_and_check(pilot)


async def test_the_focused_panel_is_marked_on_every_screen() -> None:
    app = sample_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        main = app.screen
        assert (border(main.query_one("#functions-box")), border(main.query_one("#stream-box"))) == ("heavy", "round")
        await pilot.press("tab")
        await wait_for(pilot, lambda: border(main.query_one("#stream-box")) == "heavy", what="stream marked")
        assert border(main.query_one("#functions-box")) == "round"
        await pilot.press("shift+tab")

        functions(app).select_function("hello")
        await pilot.press("i")
        await wait_for(pilot, lambda: stream(app).row_count == 1, what="one invocation")
        await pilot.press("enter")
        await shown(pilot, FunctionScreen, "function screen")
        fn = app.screen
        await wait_for(pilot, lambda: border(fn.query_one("#fn-envs-box")) == "heavy", what="environments marked")
        assert border(fn.query_one("#fn-stream-box")) == "round"
        fn.query_one("#fn-stream").focus()
        await wait_for(pilot, lambda: border(fn.query_one("#fn-stream-box")) == "heavy", what="invocations marked")
        await pilot.press("enter")
        await shown(pilot, InvocationScreen, "invocation screen")
        body = app.screen.query_one("#inv-body")
        await wait_for(pilot, lambda: body.styles.border_left[0] == "thick", what="the invocation body marked")
        await pilot.press("escape", "escape")

        for key, screen_type, box in (("d", DeadLetterScreen, "#dlq-table-box"), ("A", AlarmsScreen, "#alarms-table-box"),
                                      ("l", LogSearchScreen, "#logs-table-box")):
            await shown(pilot, MainScreen, "main screen")
            await pilot.press(key)
            await wait_for(pilot, lambda t=screen_type: isinstance(app.screen, t), what=f"{screen_type.__name__}")
            if screen_type is LogSearchScreen:
                await pilot.press("enter")  # from the filter box to the lines
            await wait_for(pilot, lambda b=box: border(app.screen.query_one(b)) == "heavy", what=f"{box} marked")
            await pilot.press("escape")
        await shown(pilot, MainScreen, "main screen")
        await quit_and_check(pilot)


async def test_at_80x24_toasts_leave_the_newest_rows_visible_and_the_footer_edge_is_clean() -> None:
    app = sample_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:  # run_test hides toasts unless asked
        await started(pilot)
        assert screen_text(app)[-1][-1] == " ", "no stray character at the footer's right edge"
        functions(app).select_function("hello")
        for count in range(1, 5):
            await pilot.press("i")
            await wait_for(pilot, lambda c=count: stream(app).row_count == c, what=f"{count} invocations")
        for n in range(3):
            app.notify(f"a message long enough to wrap on a small terminal, number {n}", title="notice")
        await wait_for(pilot, lambda: [t.region.height for t in app.screen.query(Toast)] not in ([], [0]),
                       what="the newest toast laid out")
        await pilot.pause()
        table = stream(app)
        newest = table.region.y + 1, table.region.y + 3  # the header line, then the three newest rows
        for toast in app.screen.query(Toast):
            region = toast.region
            assert region.y > newest[1] or region.bottom <= newest[0], (region, table.region)
        assert screen_text(app)[-1][-1] == " "
        await quit_and_check(pilot)


def test_the_readme_keys_section_names_every_binding() -> None:
    readme = (SAMPLE_TEMPLATE.parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- section:keys -->", 1)[1].split("<!-- /section:keys -->", 1)[0]
    written = {word for quoted in section.split("`")[1::2] for word in quoted.split()}
    for bindings in (LambdatopApp.BINDINGS, MainScreen.BINDINGS, FunctionsTable.BINDINGS, InvocationStream.BINDINGS,
                     DeadLetterScreen.BINDINGS, AlarmsScreen.BINDINGS, LogSearchScreen.BINDINGS):
        missing = keys_of(list(bindings)) - written
        assert not missing, f"README keys section misses {missing}"
