"""Hot reload of the config: limits, variables and functions change live; an invalid config is
reported with file, key and line while the last good one keeps running."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdatop.runtime.config import load_config
from lambdatop.runtime.errors import ConfigError, FunctionNotFound
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.reload.service import ReloadService, ReloadSettings
from lambdatop.runtime.services import ServiceOptions, attach_standard_services
from tests.reload_support import save, watched_fleet

LIMITS_HANDLER = """\
import os


def handler(event, context):
    return {
        "memory": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "greeting": os.environ.get("GREETING"),
    }
"""

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Limits:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: limits/
      Handler: app.handler
      Runtime: python3.11
      MemorySize: {memory}
      Timeout: {timeout}
"""


@pytest.mark.parametrize("entry", ["template.yaml", "lambdatop.yaml"])
async def test_timeout_and_memory_size_changed_in_the_template_apply_to_new_environments(tmp_path: Path, entry: str) -> None:
    (tmp_path / "limits").mkdir()
    (tmp_path / "limits" / "app.py").write_text(LIMITS_HANDLER)
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.format(memory=128, timeout=3))
    # Either the template itself, or a lambdatop.yaml that points at it (the template is watched too).
    (tmp_path / "lambdatop.yaml").write_text("template: template.yaml\nreload:\n  poll: false\n")
    async with watched_fleet(tmp_path / entry) as w:
        before = await w.fleet.invoke("Limits", {})
        limits = json.loads(before.response)
        assert limits["memory"] == "128" and 2000 < limits["remaining_ms"] <= 3000

        save(template, TEMPLATE.format(memory=256, timeout=7))
        event = await w.next_event("reload", "Limits")
        await w.settle()
        after = await w.fleet.invoke("Limits", {})
        limits = json.loads(after.response)

        assert limits["memory"] == "256" and 5000 < limits["remaining_ms"] <= 7000
        assert after.record.memory_size_mb == 256 and "Memory Size: 256 MB" in after.log_lines[-1]
        assert after.record.cold_start and after.record.env_id != before.record.env_id
        assert after.record.code_version == "v1", "a config change recycles environments but is not new code"
        assert event.detail["reason"] == "config" and event.detail["recycled"]
        assert event.message == "Limits: config: memory_size 128 MB → 256 MB, timeout 3 s → 7 s"
        assert w.fleet.functions["Limits"].timeout == 7


PROJECT = """\
functions:
  greet:
    handler: app.handler
    memory_size: 256
    environment:
      GREETING: hello
reload:
  debounce_ms: 100
"""


async def test_invalid_config_is_reported_with_file_key_and_line_and_the_last_good_one_keeps_running(
    make_project: Callable[..., Path],
) -> None:
    config = make_project({"greet": LIMITS_HANDLER}, PROJECT)
    async with watched_fleet(config) as w:
        assert json.loads((await w.fleet.invoke("greet", {})).response)["memory"] == "256"

        save(config, PROJECT.replace("memory_size: 256", "memory_size: 99999"))
        error = await w.next_event("config_error")
        assert error.detail == {
            "file": str(config), "line": 4, "key": "memory_size", "function": "greet",
            "message": "must be between 128 and 10240, got 99999",
        }
        assert error.message.startswith(f"{config}:4: function 'greet': memory_size: must be between 128 and 10240")
        assert w.fleet.snapshot().config_error.line == 4
        still = await w.fleet.invoke("greet", {})
        assert json.loads(still.response)["memory"] == "256" and not still.record.cold_start

        save(config, PROJECT.replace("GREETING: hello", "GREETING: [unclosed"))
        error = await w.next_event("config_error")
        assert error.detail["file"] == str(config) and error.detail["line"] is not None
        assert error.detail["message"].startswith("invalid YAML")
        assert json.loads((await w.fleet.invoke("greet", {})).response)["greeting"] == "hello"

        save(config, PROJECT.replace("GREETING: hello", "GREETING: bonjour"))
        await w.next_event("config_ok")
        event = await w.next_event("reload", "greet")
        assert event.message == "greet: config: environment changed", "variable values are never printed"
        assert event.detail["changes"] == {"environment": {"added": [], "removed": [], "changed": ["GREETING"]}}
        await w.settle()
        assert w.fleet.snapshot().config_error is None
        assert json.loads((await w.fleet.invoke("greet", {})).response)["greeting"] == "bonjour"


async def test_functions_added_and_removed_in_the_config_appear_and_go_live(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": LIMITS_HANDLER, "other": "def handler(event, context):\n    return 'other'\n"}, PROJECT)
    async with watched_fleet(config) as w:
        with pytest.raises(FunctionNotFound):
            await w.fleet.invoke("other", {})

        save(config, PROJECT.replace("reload:", "  other:\n    handler: app.handler\nreload:"))
        added = await w.next_event("reload", "other")
        assert added.detail["reason"] == "added" and added.detail["to"] == "v1"
        await w.settle()
        result = await w.fleet.invoke("other", {})
        assert json.loads(result.response) == "other" and result.record.code_version == "v1"
        assert "other" in w.fleet.config.functions
        assert w.reload_state("other").versions[0].version == "v1"

        save(config, PROJECT.replace("  greet:\n    handler: app.handler\n    memory_size: 256\n    environment:\n      GREETING: hello\n",
                                     "  other:\n    handler: app.handler\n"))
        removed = await w.next_event("reload", "greet")
        assert removed.detail["reason"] == "removed"
        await w.settle()
        with pytest.raises(FunctionNotFound):
            await w.fleet.invoke("greet", {})
        assert "greet" not in w.fleet.snapshot().reload
        assert json.loads((await w.fleet.invoke("other", {})).response) == "other"


async def test_reserved_concurrency_changes_the_limit_without_recycling_warm_environments(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": LIMITS_HANDLER}, PROJECT)
    async with watched_fleet(config) as w:
        warm = await w.fleet.invoke("greet", {})
        save(config, PROJECT.replace("memory_size: 256", "memory_size: 256\n    reserved_concurrency: 3"))
        event = await w.next_event("reload", "greet")
        await w.settle()
        assert event.detail["recycled"] is False
        assert event.message == "greet: config: reserved_concurrency None → 3 (environments kept)"
        assert w.fleet.gate.limit_for("greet") == 3
        again = await w.fleet.invoke("greet", {})
        assert not again.record.cold_start and again.record.env_id == warm.record.env_id


def test_reload_settings_are_validated_with_key_and_line(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    path = tmp_path / "lambdatop.yaml"
    path.write_text(textwrap.dedent("""\
        functions:
          fn: {handler: app.handler}
        reload:
          debounce_ms: 50
          ignore: ["*.log", "data/*"]
          poll: false
    """))
    assert ReloadSettings.from_config(load_config(path)) == ReloadSettings(debounce_ms=50, ignore=("*.log", "data/*"))
    path.write_text(path.read_text().replace("poll: false", "pol: true"))
    with pytest.raises(ConfigError) as raised:
        load_config(path)  # checked when the config loads, like every other section
    assert (raised.value.line, raised.value.key) == (6, "reload.pol")
    assert "did you mean 'poll'?" in raised.value.message


def test_a_full_run_attaches_hot_reload_unless_watching_is_off(sample_template: Path, tmp_path: Path) -> None:
    watching = Fleet(sample_template, work_dir=tmp_path)
    attach_standard_services(watching, ServiceOptions(port=None, store=False, watch=True))
    assert any(isinstance(service, ReloadService) for service in watching.services)
    quiet = Fleet(sample_template, work_dir=tmp_path)
    attach_standard_services(quiet, ServiceOptions(port=None, store=False, watch=False))
    assert not any(isinstance(service, ReloadService) for service in quiet.services)


@pytest.mark.parametrize(("setting", "check"), [
    ("logging: {format: JSON}", lambda result: json.loads(result.log_lines[0])["type"] == "platform.initStart"),
    ("dependencies: shared", lambda result: result.record.status == "success"),
])
async def test_settings_that_shape_the_worker_recycle_its_environments(
    make_project: Callable[..., Path], setting: str, check: Callable[..., bool],
) -> None:
    """The log format, the dependencies and the runtime client are fixed when an environment starts:
    a change of one must reach the next invocation through a new environment, not a warm old one."""
    config = make_project({"greet": LIMITS_HANDLER}, PROJECT)
    async with watched_fleet(config) as w:
        warm = await w.fleet.invoke("greet", {})
        save(config, PROJECT.replace("memory_size: 256", f"memory_size: 256\n    {setting}"))
        event = await w.next_event("reload", "greet")
        await w.settle()
        assert event.detail["recycled"] is True, event.message
        after = await w.fleet.invoke("greet", {})
        assert after.record.cold_start and after.record.env_id != warm.record.env_id
        assert check(after), after.log_lines
