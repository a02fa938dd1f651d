"""Shared fixtures: real fleets on the sample functions or on small projects written to tmp_path."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from lambdatop.runtime.execution.cgroups import run_folders_of
from lambdatop.runtime.fleet import Fleet

REPO_ROOT = Path(__file__).resolve().parent.parent
# requirements.txt installs shared by every test (tests copy public apps into tmp folders; each copy would
# install the same files again): the first run installs, later ones reuse. Tests of the default unset it.
os.environ.setdefault("LAMBDATOP_PACKAGES_DIR", str(REPO_ROOT / ".lambdatop" / "test-packages"))
SAMPLE_TEMPLATE = REPO_ROOT / "sample_functions" / "template.yaml"

# This session's own temp folder (for it and every lambdatop it starts): a worker's TMPDIR is inside it,
# and so is that of whatever a handler starts, which is how the orphan check below finds those.
SESSION_TMP = Path(tempfile.mkdtemp(prefix="lambdatop-tests-"))
os.environ["TMPDIR"] = tempfile.tempdir = str(SESSION_TMP)
atexit.register(shutil.rmtree, SESSION_TMP, True)
ORPHAN_GRACE_S = 10.0


def pytest_collection_finish(session: pytest.Session) -> None:
    """The real-minute schedule test's serve starts now, so the minute passes while the other tests run."""
    if any(item.nodeid.startswith("tests/test_schedules_minute.py") for item in session.items):
        from tests.test_schedules_minute import start_in_the_background

        start_in_the_background()


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests import test_schedules_minute

    test_schedules_minute.stop_in_the_background()  # a run interrupted before the test stops it too


def handler_orphans() -> list[psutil.Process]:
    """Processes a handler of this session started that outlived their environment (no longer our descendants)."""
    ours = {child.pid for child in psutil.Process(os.getpid()).children(recursive=True)}
    inside = str(SESSION_TMP) + os.sep  # exec'd children carry their worker's TMPDIR; forked ones the zygote's
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid in ours or proc.pid == os.getpid():
            continue
        try:
            tmpdir = proc.environ().get("TMPDIR", "")
            if (tmpdir == str(SESSION_TMP) or tmpdir.startswith(inside)) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture(autouse=True)
def no_handler_orphans() -> Iterator[None]:
    """After every test: nothing a handler started is left running (Lambda destroys the whole sandbox), whether
    it stayed in its worker's process group or not (a setsid daemon), and no cgroup folder of a fleet this
    process ran is left behind (runtime/execution/sandbox.py)."""
    yield
    deadline = time.monotonic() + ORPHAN_GRACE_S
    while (left := handler_orphans()) and time.monotonic() < deadline:
        time.sleep(0.1)
    cgroup_folders = run_folders_of(os.getpid())
    for proc in left:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    assert not left, f"handler children outlived their environment: {[(p.pid, p.info) for p in left]}"
    assert not cgroup_folders, f"cgroup folders left after the fleet stopped: {cgroup_folders}"


def lambdatop_processes() -> list[psutil.Process]:
    """Zygotes and workers started by this test process (workers are the zygotes' children)."""
    found = []
    for child in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if "lambdatop.runtime.worker.zygote" in " ".join(child.cmdline()) or child.ppid() != os.getpid():
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those not gone or zombies (a process may end between two questions about it: that is gone too)."""
    running = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                running.append(proc)
        except psutil.NoSuchProcess:
            continue
    return running


def gone(pid: int) -> bool:
    """The process has exited (a zombie not yet reaped counts as exited)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def zygote_processes_anywhere(marker: str) -> list[psutil.Process]:
    """Processes anywhere on the machine whose command line or cwd mentions `marker` (for subprocess tests)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            environ = proc.info.get("environ") or {}
            if marker in " ".join(proc.info.get("cmdline") or []) or any(marker in str(v) for v in environ.values()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.fixture
def sample_template() -> Path:
    return SAMPLE_TEMPLATE


@pytest.fixture
async def fleet() -> AsyncIterator[Fleet]:
    """A started fleet on the sample functions; stopped (and checked for leftovers) afterwards."""
    async with Fleet(SAMPLE_TEMPLATE) as running:
        yield running
    assert not still_running(lambdatop_processes())


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """Write a lambdatop.yaml and function sources into tmp_path; returns the config path.

    make_project({"fn": "def handler(e, c):\\n    return 1\\n"}, config="functions:\\n  fn: {handler: app.handler}")
    Each source is written to <tmp>/<function>/app.py unless its key contains a '/'.
    """

    def write(sources: dict[str, str], config: str) -> Path:
        for key, source in sources.items():
            path = tmp_path / (key if "/" in key else f"{key}/app.py")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        config_path = tmp_path / "lambdatop.yaml"
        config_path.write_text(textwrap.dedent(config))
        return config_path

    return write


@pytest.fixture
async def endpoint() -> AsyncIterator[Any]:
    """A started fleet on the sample functions with the HTTP endpoint on a free loopback port.

    Yields the LambdaEndpoint (`.url`, `.port`, `.fleet`); checks no process is left afterwards.
    """
    from lambdatop.runtime.api.endpoint import LambdaEndpoint

    service = LambdaEndpoint("127.0.0.1", 0)
    running = Fleet(SAMPLE_TEMPLATE)
    running.add_service(service)
    async with running:
        yield service
    assert not still_running(lambdatop_processes())


@pytest.fixture
def lambda_client() -> Callable[..., Any]:
    """Makes boto3 Lambda clients for a local endpoint: dummy credentials, one attempt (no hidden retries).

    client = lambda_client(endpoint.url)  # extra botocore Config options as keywords
    """
    import boto3
    from botocore.config import Config

    def make(url: str, **config: Any) -> Any:
        options: dict[str, Any] = {"retries": {"total_max_attempts": 1}, "read_timeout": 30, "connect_timeout": 5}
        options.update(config)
        return boto3.client(
            "lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="local",
            aws_secret_access_key="local", config=Config(**options),
        )

    return make
