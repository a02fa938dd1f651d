"""`lambdatop serve` as a user runs it: a real process, real clients, Ctrl-C, nothing left behind."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time

import psutil
import pytest

from lambdatop.runtime.api.endpoint import LambdaEndpoint, RemoteAccessRefused
from tests.conftest import still_running
from tests.support import serve

HELLO = "def handler(event, context):\n    print('serving', event.get('name'))\n    return {'hello': event.get('name')}\n"
CONFIG = "functions:\n  hello: {handler: app.handler}\n"


def _read_url(process: subprocess.Popen, timeout: float = 60.0) -> str:
    """The endpoint URL from the banner (`Lambda API   http://127.0.0.1:PORT`)."""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"serve exited early with {process.wait(5)}")
        found = re.match(r"Lambda API\s+(http://127\.0\.0\.1:\d+)$", line.strip())
        if found:
            return found.group(1)
    raise AssertionError("serve printed no URL")


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize(
    ("stop_signal", "port_from"),
    [(signal.SIGINT, "flag"), (signal.SIGTERM, "config")],
    ids=["ctrl-c, --port 0", "sigterm, http.port 0 in the config"],
)
def test_serve_invoke_then_stop_exits_0_and_leaves_no_process(make_project, lambda_client, tmp_path, stop_signal, port_from):
    config = make_project({"hello": HELLO}, CONFIG + ("http:\n  port: 0\n" if port_from == "config" else ""))
    log = tmp_path / "serve.err"
    with log.open("w") as stderr:
        process = serve(config, *(["--port", "0"] if port_from == "flag" else []), stderr=stderr)
        try:
            url = _read_url(process)
            client = lambda_client(url)
            response = client.invoke(FunctionName="hello", Payload=b'{"name": "subprocess"}')
            assert json.loads(response["Payload"].read()) == {"hello": "subprocess"}
            children = _descendants(process.pid)
            assert any("lambdatop.runtime.worker.zygote" in " ".join(p.cmdline()) for p in children)
            assert len(children) >= 2  # the zygote and the warm worker
            process.send_signal(stop_signal)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert still_running(children) == []
    printed = log.read_text()
    assert "[hello] serving subprocess" in printed  # each invocation's log is echoed
    assert re.search(r"\[hello\] REPORT RequestId: \S+\tDuration: ", printed)
    assert "lambdatop: stopped" in printed


def test_serve_refuses_a_remote_host_without_allow_remote(make_project):
    config = make_project({"hello": HELLO}, CONFIG)
    process = serve(config, "--host", "0.0.0.0", "--port", "0")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "0.0.0.0" in stderr and "--allow-remote" in stderr


def test_serve_on_a_busy_port_says_so_and_exits_2(make_project):
    config = make_project({"hello": HELLO}, CONFIG)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = serve(config, "--port", str(port))
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in stderr and "--port" in stderr


def test_the_endpoint_refuses_non_loopback_hosts_unless_allowed():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert LambdaEndpoint(host, 0).remote_warning is None
    for host in ("0.0.0.0", "::", "192.0.2.10"):
        with pytest.raises(RemoteAccessRefused, match="--allow-remote"):
            LambdaEndpoint(host, 0)
        assert "no authentication" in (LambdaEndpoint(host, 0, allow_remote=True).remote_warning or "")


def test_http_section_settings_and_command_line_precedence(make_project):
    from lambdatop.runtime.config import load_config
    from lambdatop.runtime.errors import ConfigError
    from lambdatop.runtime.config.http_settings import HttpSettings

    settings = HttpSettings.from_config(load_config(make_project({"hello": HELLO}, CONFIG)))
    assert settings == HttpSettings(enabled=True, host="127.0.0.1", port=3001, allow_remote=False)

    configured = HttpSettings.from_config(load_config(make_project({"hello": HELLO}, CONFIG + "http:\n  port: 4100\n  host: localhost\n")))
    assert (configured.host, configured.port) == ("localhost", 4100)
    assert configured.overridden(port=0).port == 0  # the flag wins
    assert configured.overridden().port == 4100

    off = HttpSettings.from_config(load_config(make_project({"hello": HELLO}, CONFIG + "http: false\n")))
    assert not off.enabled and off.overridden(port=3005).enabled

    with pytest.raises(ConfigError, match="http.port: must be a port number") as bad:
        HttpSettings.from_config(load_config(make_project({"hello": HELLO}, CONFIG + "http:\n  port: 70000\n")))
    assert bad.value.line == 4
    with pytest.raises(ConfigError, match="unknown key in http"):
        HttpSettings.from_config(load_config(make_project({"hello": HELLO}, CONFIG + "http:\n  prot: 1\n")))
