"""Record and replay: a recorded run comes back as the same sequence; --compare catches a changed handler."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

from lambdatop.runtime.config import load_config
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.store.replay import RecordedEvent, read_jsonl, replay
from lambdatop.runtime.services import attach_store_services
from lambdatop.runtime.store.reader import StoreReader
from .support import lambdatop

ECHO = """
def handler(event, context):
    if event.get("fail"):
        raise KeyError("fail")
    return {"echo": event, "id": context.aws_request_id}
"""
CHANGED = """
def handler(event, context):
    if event.get("fail"):
        raise KeyError("fail")
    result = {"echo": event, "id": context.aws_request_id}
    if event.get("n") == 3:
        result["new_field"] = 1  # the deliberate change
    return result
"""
CONFIG = "async: {delay_scale: 0.001}\nfunctions:\n  echo:\n    handler: app.handler\n    timeout: 1\n    async: {MaximumRetryAttempts: 0}\n"
SEQUENCE = [("RequestResponse", {"n": 0}), ("Event", {"n": 1}), ("RequestResponse", {"n": 2, "fail": True}),
            ("RequestResponse", {"n": 3}), ("Event", {"n": 4}), ("RequestResponse", {"n": 5})]


async def record_run(config: Path) -> int:
    fleet = Fleet(config)
    attach_store_services(fleet)
    async with fleet:
        for kind, event in SEQUENCE:
            if kind == "Event":
                await fleet.async_queue.settled(await fleet.enqueue("echo", json.dumps(event).encode()))
            else:
                await fleet.invoke("echo", event)
            await asyncio.sleep(0.15)
        return fleet.store.run_id


def sequence(db: Path, run: int) -> list[tuple[str, object]]:
    with StoreReader.open(db) as reader:
        return [(s.record.invocation_type, s.event()) for s in reader.invocations(run=run, newest_first=False, payloads=True)]


async def test_replaying_a_run_reproduces_its_sequence_and_compare_flags_a_changed_handler(make_project: Callable[..., Path]) -> None:
    config = make_project({"echo": ECHO}, CONFIG)
    db = config.parent / ".lambdatop" / "lambdatop.db"
    original = await record_run(config)
    assert sequence(db, original) == SEQUENCE

    same = lambdatop("replay", "--run", str(original), "--compare", "-c", str(config), cwd=config.parent, timeout=120)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "compared 6, 0 differ" in same.stderr
    with StoreReader.open(db) as reader:
        replay_run = reader.runs()[0]
        assert replay_run.id != original and "replay" in (replay_run.command or "")
        triggers = {s.record.trigger for s in reader.invocations(run=replay_run.id, limit=None)}
    assert sequence(db, replay_run.id) == SEQUENCE  # same payloads, same order, same invocation types
    assert triggers == {"replay"}

    (config.parent / "echo" / "app.py").write_text(CHANGED)
    changed = lambdatop("replay", "--run", str(original), "--speed", "0", "--compare", "-c", str(config), cwd=config.parent, timeout=120)
    assert changed.returncode == 1, changed.stdout + changed.stderr
    flagged = [line for line in changed.stdout.splitlines() if "DIFF" in line]
    assert len(flagged) == 1 and "echo RequestResponse" in flagged[0]
    assert '"new_field": 1' in changed.stdout and "1 differ from the recording" in changed.stderr


async def test_export_import_and_replaying_a_file(make_project: Callable[..., Path], tmp_path: Path) -> None:
    config = make_project({"echo": ECHO}, CONFIG)
    await record_run(config)
    exported = lambdatop("record", "export", "--run", "last", "-c", str(config), cwd=config.parent, timeout=120)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(line["invocation_type"], line["event"]) for line in lines] == SEQUENCE
    assert lines[2]["expected"]["status"] == "error" and lines[2]["expected"]["error_type"] == "KeyError"
    file = tmp_path / "events.jsonl"
    file.write_text(exported.stdout)

    from_file = lambdatop("replay", str(file), "--speed", "0", "--compare", "-c", str(config), cwd=config.parent, timeout=120)
    assert from_file.returncode == 0, from_file.stdout + from_file.stderr

    imported = lambdatop("record", "import", str(file), "-c", str(config), cwd=config.parent, timeout=120)
    assert imported.returncode == 0, imported.stderr
    run_id = int(imported.stdout.split("as run ")[1].split(";")[0])
    db = config.parent / ".lambdatop" / "lambdatop.db"
    assert sequence(db, run_id) == SEQUENCE
    again = lambdatop("replay", "--run", str(run_id), "--speed", "0", "--compare", "-c", str(config), cwd=config.parent, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr


async def test_replay_keeps_the_original_spacing_scaled_by_speed(make_project: Callable[..., Path]) -> None:
    config = make_project({"echo": ECHO}, CONFIG)
    events = [RecordedEvent("echo", b'{"n": %d}' % n, at=100.0 + 0.4 * n) for n in range(3)]
    async with Fleet(load_config(config)) as fleet:
        began = time.monotonic()
        outcomes = await replay(fleet, events, speed=2.0)
        assert time.monotonic() - began >= 0.38  # 0.8 s of recorded spacing at twice the speed
        assert [o.result.record.status for o in outcomes if o.result] == ["success"] * 3


def test_the_sample_event_sets_load(sample_template: Path) -> None:
    files = sorted(sample_template.parent.glob("*/events/*.jsonl"))
    assert files
    functions = load_config(sample_template).functions
    for file in files:
        events = read_jsonl(file)
        assert events and all(e.function in functions for e in events)
