"""The AWS services sidecar is a child that never outlives lambdatop, and comes back when it dies."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.triggers.service import trigger_service

from tests.aws_support import Results, aws_fleet, client, copy_app, sidecar_of
from tests.support import serve


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _serve(config: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    """`lambdatop serve` on free ports; returns it and its sidecar's pid (read from the banner)."""
    process = serve(config, "--port", "0", "--aws-port", "0", "--no-store", "--no-watch", *extra, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"AWS services http://127\.0\.0\.1:\d+ \(sidecar pid (\d+)", line)
        if found:
            return process, int(found.group(1))
    raise AssertionError(f"no AWS services line; serve exited with {process.wait()}")


async def test_the_sidecar_stops_with_the_fleet(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path)) as fleet:
        pid = sidecar_of(fleet).sidecar.pid
        assert pid is not None and psutil.Process(pid).ppid() == os.getpid()
    assert _gone(pid)


async def test_a_sidecar_that_dies_is_restarted_says_so_and_gets_its_resources_back(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path)) as fleet:
        events = fleet.subscribe("test-restart")
        service = sidecar_of(fleet)
        first = service.sidecar.pid
        url = service.endpoint_url
        os.kill(first, signal.SIGKILL)
        for _ in range(200):
            await asyncio.sleep(0.1)
            if service.sidecar.restarts and service.values.names:
                notices = [e for e in events.drain() if isinstance(e, FleetEvent) and "restarted" in e.message]
                if notices:
                    break
        else:
            raise AssertionError("the sidecar was not restarted")
        assert service.sidecar.pid != first and service.endpoint_url == url  # same port: workers' URL stays right
        queue = fleet.functions["QueueWorker"].environment["QUEUE_URL"]
        assert queue in client(fleet, "sqs").list_queues()["QueueUrls"]  # created again, and the env follows
        # ...and the event sources are wired to the new resources: a push source and a mapping deliver again.
        results = Results(fleet)
        bucket = fleet.functions["QueueWorker"].environment["BUCKET"]
        triggers = trigger_service(fleet)
        for _ in range(300):  # the new bucket's notification is wired by the next reconcile, then polled
            if any(m.kind == "s3" and m.source_arn.endswith(bucket) and m.last_poll_at for m in triggers.snapshot()):
                break
            await asyncio.sleep(0.1)
        client(fleet, "s3").put_object(Bucket=bucket, Key="after-restart.csv", Body=b"id\n1\n")
        uploaded = await results.wait("CsvWatcher", timeout=30)
        assert json.loads(uploaded[0].request)["Records"][0]["s3"]["object"]["key"] == "after-restart.csv"
        client(fleet, "sqs").send_message(QueueUrl=queue, MessageBody=json.dumps({"id": "after-restart"}))
        await results.wait("QueueWorker", timeout=30)


def test_ctrl_c_of_serve_leaves_no_sidecar(tmp_path: Path) -> None:
    process, sidecar = _serve(copy_app(tmp_path))
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    assert _gone(sidecar)


def test_kill_9_of_lambdatop_leaves_no_orphan_sidecar(tmp_path: Path) -> None:
    process, sidecar = _serve(copy_app(tmp_path))
    assert psutil.Process(sidecar).is_running()
    process.kill()
    process.wait(10)
    assert _gone(sidecar), "the sidecar outlived a kill -9 of lambdatop"


def test_no_aws_runs_without_a_sidecar(tmp_path: Path) -> None:
    config = copy_app(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "lambdatop.tui.cli", "serve", "--config", str(config), "--port", "0", "--no-aws",
         "--no-store", "--no-watch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=config.parent,
    )
    try:
        assert process.stdout is not None
        banner = ""
        for line in process.stdout:
            banner += line
            if line.startswith("Ctrl-C"):
                break
        assert "AWS services" not in banner
        assert not [p for p in psutil.Process(process.pid).children() if "aws.launcher" in " ".join(p.cmdline())]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)


async def test_a_busy_port_moves_the_sidecar_to_a_free_one_with_a_warning(tmp_path: Path) -> None:
    import socket

    from lambdatop.runtime.aws.service import AwsService
    from lambdatop.runtime.config.aws_settings import AwsSettings
    from lambdatop.runtime.fleet import Fleet

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    busy = holder.getsockname()[1]
    try:
        fleet = Fleet(copy_app(tmp_path))
        fleet.add_service(AwsService(AwsSettings(port=busy)))
        events = fleet.subscribe("test-busy")
        async with fleet:
            service = sidecar_of(fleet)
            assert service.sidecar.port != busy and service.endpoint_url == fleet.worker_environment["AWS_ENDPOINT_URL"]
            assert any(isinstance(e, FleetEvent) and f"port {busy}" in e.message for e in events.drain())
    finally:
        holder.close()


def test_lambdatop_invoke_joins_the_running_services_and_their_resources(tmp_path: Path) -> None:
    config = copy_app(tmp_path)
    process, sidecar = _serve(config)
    try:
        # The serve above took a free port; point the command at it through aws.endpoint_url.
        ports = [c.laddr.port for c in psutil.Process(sidecar).net_connections() if c.status == psutil.CONN_LISTEN]
        joined = config.with_name("lambdatop.yaml")
        joined.write_text(f"template: template.yaml\naws: {{endpoint_url: 'http://127.0.0.1:{ports[0]}'}}\nstore: false\n")
        done = subprocess.run(
            [sys.executable, "-m", "lambdatop.tui.cli", "invoke", "Writer", "--config", str(joined), "--event", "-"],
            input='{"item": {"id": "from-invoke"}}', capture_output=True, text=True, timeout=60, cwd=config.parent,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"http://127.0.0.1:{ports[0]}" in done.stdout and "aws-app-Items-" in done.stdout
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
