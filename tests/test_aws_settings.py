"""The `aws:` section: dummy keys by default, real AWS only when asked (with a warning), or an emulator already running."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lambdatop.runtime.config.aws_settings import AwsSettings, Credentials, Endpoint
from lambdatop.runtime.aws.sidecar import Sidecar
from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.config import load_config
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.services import ServiceOptions, attach_standard_services

ENV_PROBE = """
import os
def handler(event, context):
    return {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
"""


def _project(make_project: Callable[..., Any], aws: str) -> Path:
    return make_project({"probe": ENV_PROBE}, f"functions:\n  probe: {{handler: app.handler}}\nstore: false\n{aws}")


async def _probe(config: Path) -> tuple[dict[str, Any], list[FleetEvent]]:
    fleet = Fleet(config)
    attach_standard_services(fleet, ServiceOptions(port=None, watch=False, store=False, aws_port=0))
    events = fleet.subscribe("test-settings")
    async with fleet:
        result = await fleet.invoke("probe", {})
    return json.loads(result.response), [e for e in events.drain() if isinstance(e, FleetEvent)]


def test_settings_read_and_refuse_what_cannot_work(make_project: Callable[..., Any]) -> None:
    config = load_config(_project(make_project, "aws: {port: 0, credentials: host, endpoint: real}"))
    settings = AwsSettings.from_config(config)
    assert (settings.endpoint, settings.credentials, settings.runs_sidecar) == (Endpoint.REAL, Credentials.HOST, False)
    with pytest.raises(ConfigError, match="needs credentials: host"):
        load_config(_project(make_project, "aws: {endpoint: real}"))
    with pytest.raises(ConfigError, match="did you mean 'port'"):
        load_config(_project(make_project, "aws: {prot: 1}"))


async def test_real_aws_needs_the_opt_in_and_then_gets_the_hosts_keys_with_a_warning(make_project: Callable[..., Any], monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHOSTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    env, events = await _probe(_project(make_project, "aws: {endpoint: real, credentials: host}"))
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("AKIAHOSTKEY", "host-secret")
    assert env["AWS_SESSION_TOKEN"] is None and env["AWS_ENDPOINT_URL"] is None  # no dummy token beside real keys
    assert any(e.kind == "warning" and "real AWS account" in e.message for e in events)


async def test_by_default_the_hosts_keys_never_reach_a_function(make_project: Callable[..., Any], monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHOSTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-secret")
    env, _ = await _probe(_project(make_project, ""))
    assert env["AWS_ACCESS_KEY_ID"] != "AKIAHOSTKEY" and env["AWS_SECRET_ACCESS_KEY"] != "host-secret"
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")


async def test_endpoint_url_points_functions_at_an_emulator_already_running(make_project: Callable[..., Any], tmp_path: Path) -> None:
    emulator = Sidecar("127.0.0.1", 0, tmp_path / "emulator.log")
    await emulator.start()
    try:
        config = _project(make_project, f"aws: {{endpoint_url: '{emulator.url}'}}")
        env, _ = await _probe(config)
        assert env["AWS_ENDPOINT_URL"] == emulator.url
    finally:
        await emulator.stop()
