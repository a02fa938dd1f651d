"""Hot reload of code: a save reaches the next invocation, in-flight work finishes on the old code,
broken code is reported and healed, and editors' save patterns cause one reload or none."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdatop.runtime.execution.environment import EnvState
from lambdatop.runtime.records import InvocationStatus
from tests.conftest import lambdatop_processes
from tests.reload_support import alive, save, spares, watched_fleet

CONFIG = """\
functions:
  greet:
    handler: app.handler
    timeout: 30
reload:
  debounce_ms: 150
"""

HOLDING_HANDLER = """\
import os
import shutil
import time

VERSION = "{version}"


def handler(event, context):
    hold = event.get("hold")
    while hold and os.path.exists(hold):  # the test holds the invocation open until it removes the file
        time.sleep(0.01)
    return VERSION
"""


def source(version: str) -> str:
    return HOLDING_HANDLER.format(version=version)


async def test_edit_reaches_the_next_invoke_as_a_new_code_version(make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # Workers write __pycache__ as they do for most users, so a stale .pyc could serve the old code.
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    config = make_project({"greet": source("one")}, CONFIG)
    async with watched_fleet(config) as w:
        before = await w.fleet.invoke("greet", {})
        assert json.loads(before.response) == "one"
        assert before.record.code_version == "v1"
        first_hash = w.reload_state("greet").versions[0].hash
        assert len(first_hash) == 7

        # Same length as before, within the same second as the first import: stale bytecode must not win.
        save(config.parent / "greet" / "app.py", source("two"))
        event = await w.next_event("reload", "greet")
        await w.settle()
        after = await w.fleet.invoke("greet", {})

        assert json.loads(after.response) == "two"
        assert after.record.code_version == "v2"
        assert after.record.cold_start, "the first invocation on new code is a cold start"
        assert after.record.init_duration_ms is not None
        assert after.log_lines[0].startswith("INIT_START ")
        assert after.record.env_id != before.record.env_id
        assert event.message.startswith("greet: v1 → v2 (")
        versions = w.reload_state("greet").versions
        assert [v.version for v in versions] == ["v1", "v2"]
        assert versions[1].hash != first_hash and event.detail["hash"] == versions[1].hash
        assert event.detail["files"] == ["greet/app.py"]
        assert w.fleet.snapshot().functions[0].code_version == "v2"
        assert (config.parent / "greet" / "__pycache__").is_dir()


async def test_invocation_in_flight_during_a_save_finishes_on_the_old_code(make_project: Callable[..., Path], tmp_path: Path) -> None:
    config = make_project({"greet": source("old")}, CONFIG)
    hold = tmp_path / "hold"
    hold.write_text("")
    async with watched_fleet(config) as w:
        pool = w.fleet.pools["greet"]
        in_flight = asyncio.create_task(w.fleet.invoke("greet", {"hold": str(hold)}))
        try:
            for _ in range(500):
                if any(env.state is EnvState.BUSY for env in pool.envs.values()):
                    break
                await asyncio.sleep(0.01)
            busy = next(env for env in pool.envs.values() if env.state is EnvState.BUSY)

            save(config.parent / "greet" / "app.py", source("new"))
            await w.next_event("reload", "greet")
            await w.settle()
            assert busy.state is EnvState.BUSY and busy.stale, "the busy environment keeps running, marked stale"
            fresh = await w.fleet.invoke("greet", {})
            assert json.loads(fresh.response) == "new" and fresh.record.code_version == "v2"
            assert fresh.record.env_id != busy.id
        finally:
            hold.unlink()
        old = await in_flight

        assert json.loads(old.response) == "old"
        assert old.record.code_version == "v1" and old.record.env_id == busy.id
        for _ in range(500):  # having finished, the old environment goes
            if busy.id not in pool.envs:
                break
            await asyncio.sleep(0.01)
        assert busy.id not in pool.envs
        again = await w.fleet.invoke("greet", {})
        assert json.loads(again.response) == "new" and not again.record.cold_start


async def test_syntax_error_is_reported_with_file_and_line_and_the_next_good_save_heals(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": source("fine")}, CONFIG)
    app = config.parent / "greet" / "app.py"
    async with watched_fleet(config) as w:
        assert json.loads((await w.fleet.invoke("greet", {})).response) == "fine"

        save(app, "def handler(event, context):\n    return (\n")
        broken = await w.next_event("broken", "greet")
        assert broken.detail["error_type"] == "Runtime.UserCodeSyntaxError"
        assert (broken.detail["file"], broken.detail["line"]) == ("greet/app.py", 2)
        state = w.reload_state("greet").broken
        assert state is not None and (state.file, state.line, state.version) == ("greet/app.py", 2, "v2")

        result = await w.fleet.invoke("greet", {})
        error = json.loads(result.response)
        assert result.record.status is InvocationStatus.ERROR and result.function_error == "Unhandled"
        assert error["errorType"] == "Runtime.UserCodeSyntaxError"
        assert error["errorMessage"].startswith("Syntax error in module 'app': ")
        assert error["stackTrace"] == [f'  File "{app}" Line 2\n        return (\n']  # the line unstripped, as the RIC gives it

        save(app, source("healed"))
        healed = await w.next_event("healed", "greet")
        assert healed.detail["version"] == "v3"
        assert w.reload_state("greet").broken is None
        result = await w.fleet.invoke("greet", {})
        assert json.loads(result.response) == "healed" and result.record.code_version == "v3"


async def test_import_error_and_missing_handler_are_flagged_before_any_invoke(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": source("fine"), "greet/helpers.py": "X = 1\n"}, CONFIG)
    app = config.parent / "greet" / "app.py"
    async with watched_fleet(config) as w:
        # The missing module is imported by a helper: the location is the helper's line, found in the traceback.
        save(config.parent / "greet" / "helpers.py", "X = 1\nimport not_installed_anywhere\n")
        save(app, "import helpers\n\n\ndef handler(event, context):\n    return helpers.X\n")
        broken = await w.next_event("broken", "greet")
        assert broken.detail["error_type"] == "Runtime.ImportModuleError"
        assert broken.detail["message"] == "Unable to import module 'app': No module named 'not_installed_anywhere'"
        assert (broken.detail["file"], broken.detail["line"]) == ("greet/helpers.py", 2)
        error = json.loads((await w.fleet.invoke("greet", {})).response)
        assert error["errorType"] == "Runtime.ImportModuleError" and error["stackTrace"] == []

        save(config.parent / "greet" / "helpers.py", "X = 1\n")
        save(app, "def not_the_handler(event, context):\n    return 1\n")
        missing = await w.next_event("broken", "greet")
        assert missing.detail["error_type"] == "Runtime.HandlerNotFound"
        assert missing.detail["message"] == "Handler 'handler' missing on module 'app'"
        assert missing.detail["file"] == "greet/app.py"
        error = json.loads((await w.fleet.invoke("greet", {})).response)
        assert error["errorType"] == "Runtime.HandlerNotFound"

        save(app, source("back"))
        await w.next_event("healed", "greet")
        assert json.loads((await w.fleet.invoke("greet", {})).response) == "back"


async def test_code_broken_at_start_is_flagged_by_the_first_invoke(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": "def handler(event, context):\n    return 1 +\n"}, CONFIG)
    async with watched_fleet(config) as w:
        assert w.reload_state("greet").broken is None  # nothing has run it yet
        result = await w.fleet.invoke("greet", {})
        assert json.loads(result.response)["errorType"] == "Runtime.UserCodeSyntaxError"
        broken = await w.next_event("broken", "greet")
        assert (broken.detail["version"], broken.detail["line"]) == ("v1", 2)
        assert broken.detail["file"] == "greet/app.py"


async def test_twenty_reloads_leave_no_process_behind(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": source("0")}, CONFIG)
    app = config.parent / "greet" / "app.py"
    async with watched_fleet(config) as w:
        await w.fleet.invoke("greet", {})
        # The zygote forks its next spare a few ms after each cold start: count it in, whenever it comes.
        for _ in range(500):
            if spares(w.fleet):
                break
            await asyncio.sleep(0.01)
        assert spares(w.fleet), "the zygote forked no spare after the cold start"
        baseline = len(alive(lambdatop_processes()))  # the zygote, its spare and one warm worker
        for number in range(1, 21):
            save(app, source(str(number)))
            await w.next_event("reload", "greet")
            await w.settle()
            result = await w.fleet.invoke("greet", {})
            assert json.loads(result.response) == str(number)
            assert result.record.code_version == f"v{number + 1}"
        for _ in range(300):  # retired workers are reaped by the zygote a moment later
            if len(alive(lambdatop_processes())) == baseline:
                break
            await asyncio.sleep(0.02)
        assert len(alive(lambdatop_processes())) == baseline
        assert len(w.fleet.pools["greet"].envs) == 1
    # watched_fleet checks that nothing outlives the fleet


async def test_a_burst_of_ten_writes_in_the_debounce_window_is_one_reload(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": source("start")}, CONFIG.replace("debounce_ms: 150", "debounce_ms: 400"))
    app = config.parent / "greet" / "app.py"
    async with watched_fleet(config) as w:
        for number in range(10):
            save(app, source(f"burst-{number}"))
        await w.next_event("reload", "greet")
        await w.settle()
        await asyncio.sleep(1.0)  # anything late would show up as a second reload
        assert w.kinds("reload") == []
        assert [v.version for v in w.reload_state("greet").versions] == ["v1", "v2"]
        assert json.loads((await w.fleet.invoke("greet", {})).response) == "burst-9"


async def test_editor_noise_and_non_code_files_cause_no_reload(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": source("same"), "greet/events/basic.json": "{}"}, CONFIG)
    code = config.parent / "greet"
    async with watched_fleet(config) as w:
        (code / "__pycache__").mkdir(exist_ok=True)
        (code / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
        (code / ".app.py.swp").write_text("swap")
        (code / "app.py~").write_text("backup")
        (code / "4913").write_text("")
        (code / "#app.py#").write_text("emacs autosave")
        (code / ".git").mkdir()
        (code / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
        (config.parent / ".lambdatop").mkdir()
        (config.parent / ".lambdatop" / "store.sqlite").write_text("x")
        (code / "events" / "other.json").write_text('{"saved": "event"}')
        save(code / "app.py", source("same"))  # rewritten with the same bytes: nothing changed
        await asyncio.sleep(0.8)
        await w.settle()
        assert w.kinds("reload") == []
        assert [v.version for v in w.reload_state("greet").versions] == ["v1"]

        # Write-to-temp-then-rename, as vim (backupcopy=no) and many IDEs save: one reload.
        temp = code / ".app.py.tmp-save"
        save(temp, source("renamed"))
        os.replace(temp, code / "app.py")
        await w.next_event("reload", "greet")
        await w.settle()
        await asyncio.sleep(0.5)
        assert w.kinds("reload") == []
        assert json.loads((await w.fleet.invoke("greet", {})).response) == "renamed"

        # A data file the code reads is code too.
        save(code / "data.json", '{"a": 1}')
        event = await w.next_event("reload", "greet")
        assert event.detail["files"] == ["greet/data.json"]


async def test_polling_sees_every_save_where_inotify_cannot_be_used(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": source("before")}, CONFIG + "  poll: true\n")
    async with watched_fleet(config) as w:
        assert w.service.settings.poll
        save(config.parent / "greet" / "app.py", source("after"))
        await w.next_event("reload", "greet")
        await w.settle()
        assert json.loads((await w.fleet.invoke("greet", {})).response) == "after"
        # Same size, very likely within the same second: whole-second mtimes would miss it.
        save(config.parent / "greet" / "app.py", source("AFTER"))
        await w.next_event("reload", "greet")
        await w.settle()
        assert json.loads((await w.fleet.invoke("greet", {})).response) == "AFTER"


async def test_a_code_folder_deleted_and_recreated_is_watched_again(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": source("one")}, CONFIG)
    folder = config.parent / "greet"
    async with watched_fleet(config) as w:
        assert json.loads((await w.fleet.invoke("greet", {})).response) == "one"

        # A build that wipes its output folder and writes it back at once: the new folder (already holding
        # its files) may be there before the watcher has even heard the old one go.
        build = config.parent / "build-output"
        build.mkdir()
        save(build / "app.py", source("two"))
        shutil.rmtree(folder)
        os.rename(build, folder)
        notice = await w.next_event("notice")
        assert "greet" in notice.message and "again" in notice.message
        await w.next_event("reload", "greet")
        await w.settle()
        assert json.loads((await w.fleet.invoke("greet", {})).response) == "two"
        w.forget()  # the deletion and the return may have been one reload or two: the next one is about the save

        save(folder / "app.py", source("three"))  # the new folder is watched like the old one
        await w.next_event("reload", "greet")
        await w.settle()
        assert json.loads((await w.fleet.invoke("greet", {})).response) == "three"
