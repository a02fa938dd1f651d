"""Functions see what Lambda's Python runtime gives them: their folder, requirements.txt, the runtime's boto3.

On Lambda, `sam build` installs a code folder's requirements.txt beside the code
and the runtime bundles boto3/botocore (/var/runtime); a module nobody declared
fails at Init with `Runtime.ImportModuleError: Unable to import module 'app': No
module named 'x'` (LAMBDA.md, error types). lambdatop installs requirements.txt
into `.lambdatop/packages/<digest>` and, isolated (the default), hides its own
environment (textual, aiohttp, pyyaml, moto...) from functions.

Real processes throughout: `lambdatop invoke` / `serve` as subprocesses, a real pip
install of a wheel built in the test's folder (no network: `--no-index` in the file),
and of `requests`, the package `sam init`'s Python hello-world app declares
(aws/aws-sam-cli, cookiecutter-aws-sam-hello-python), from this machine's
configured index.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

LAMBDATOP = [sys.executable, "-m", "lambdatop.tui.cli"]
PY312 = Path("/root/.pyenv/versions/3.12.1/bin/python3.12")


def build_wheel(folder: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """A pure-Python wheel written by hand (a zip with its dist-info): pip installs it with no build step."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: lambdatop-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{info}/RECORD", "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"]))
    return wheel


def project(root: Path, config: str, functions: dict[str, dict[str, str]]) -> Path:
    """lambdatop.yaml plus one folder per function (`{"fn": {"app.py": "...", "requirements.txt": "..."}}`)."""
    for folder, files in functions.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (root / folder / name).write_text(text)
    (root / "lambdatop.yaml").write_text(config)
    return root


def invoke(root: Path, function: str, *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LAMBDATOP_PACKAGES_DIR"}  # the default: beside the config
    return subprocess.run([*LAMBDATOP, "--no-aws", "invoke", function, "--event", "-"], input="{}", cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)


IMPORTS = """
import importlib.metadata
import sys
def handler(event, context):
    found = {"boto3 version": importlib.metadata.version("boto3"), "dateutil version": importlib.metadata.version("python-dateutil")}
    for name in ("tinydep", "yaml", "aiohttp", "textual", "msgpack", "boto3", "botocore"):
        try:
            module = __import__(name)
            found[name] = getattr(module, "__file__", "")
        except ImportError:
            found[name] = None
    return {"python": "%d.%d" % sys.version_info[:2], "found": found}
"""


def test_requirements_install_once_and_only_declared_packages_import(tmp_path: Path) -> None:
    wheels = build_wheel(tmp_path / "wheels").parent
    root = project(tmp_path / "app", "functions:\n  fn: {handler: app.handler, code: fn}\n", {
        "fn": {"app.py": IMPORTS, "requirements.txt": f"--no-index\n--find-links {wheels}\ntinydep==1.0\n"},
    })
    first = invoke(root, "fn")
    assert first.returncode == 0, first.stderr
    found = json.loads(first.stdout)["found"]
    # Declared: installed under .lambdatop/packages/. Bundled by the runtime: boto3, botocore.
    assert found["tinydep"] and "/.lambdatop/packages/" in found["tinydep"]
    assert found["boto3"] and found["botocore"]
    # ... with their metadata, as code asking importlib.metadata for boto3's version finds it on Lambda.
    assert (found["boto3 version"], found["dateutil version"]) == (importlib.metadata.version("boto3"), importlib.metadata.version("python-dateutil"))
    # lambdatop's own packages are not the function's (on main every one of these imported).
    assert found["yaml"] is None and found["aiohttp"] is None and found["textual"] is None and found["msgpack"] is None
    assert "lambdatop: [packages fn] installing" in first.stderr
    # Once per change: the second run finds the folder complete and installs nothing.
    second = invoke(root, "fn")
    assert second.returncode == 0 and "installing" not in second.stderr, second.stderr
    # A changed file installs again, into a new folder.
    build_wheel(tmp_path / "wheels", version="2.0")
    (root / "fn" / "requirements.txt").write_text(f"--no-index\n--find-links {wheels}\ntinydep==2.0\n")
    third = invoke(root, "fn")
    assert "installing" in third.stderr and json.loads(third.stdout)["found"]["tinydep"] != found["tinydep"], third.stderr
    assert len(list((root / ".lambdatop" / "packages").glob("*/.lambdatop-complete"))) == 2


def test_an_undeclared_import_fails_at_init_as_on_lambda_with_a_hint(tmp_path: Path) -> None:
    root = project(tmp_path, "functions:\n  fn: {handler: app.handler, code: fn}\n  shared: {handler: app.handler, code: fn, dependencies: shared}\n", {
        "fn": {"app.py": "import yaml\n\ndef handler(event, context):\n    return yaml.__name__\n", "requirements.txt": "\n"},
    })
    failed = invoke(root, "fn")
    assert failed.returncode != 0
    body = json.loads(failed.stdout)
    # Lambda's payload, unchanged: the hint is a log line of lambdatop's own.
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'app': No module named 'yaml'"
    assert "lambdatop: No module named 'yaml': it is not installed by" in failed.stderr
    assert "INIT_REPORT" in failed.stderr and "Error Type: Runtime.ImportModuleError" in failed.stderr
    # `dependencies: shared`: today's behaviour, lambdatop's environment is the function's.
    shared = invoke(root, "shared")
    assert shared.returncode == 0 and json.loads(shared.stdout) == "yaml", shared.stderr


def test_a_failed_install_marks_the_function_broken_with_pips_message(tmp_path: Path) -> None:
    root = project(tmp_path, "functions:\n  fn: {handler: app.handler, code: fn}\n", {
        "fn": {"app.py": "import nosuchdep\n\ndef handler(event, context):\n    return 1\n",
               "requirements.txt": "--no-index\nnosuchdep==1.0\n"},
    })
    result = invoke(root, "fn")
    assert result.returncode != 0
    assert "lambdatop: [broken fn]" in result.stderr and "No matching distribution found for nosuchdep==1.0" in result.stderr, result.stderr
    assert json.loads(result.stdout)["errorType"] == "Runtime.ImportModuleError"
    assert not list((root / ".lambdatop" / "packages").glob("*/.lambdatop-complete"))  # nothing looks installed


def test_sam_hello_world_app_installs_its_requirements_on_a_fresh_machine(tmp_path: Path) -> None:
    """`sam init`'s Python hello-world shape: hello_world/requirements.txt declares `requests`; nothing installed by hand."""
    (tmp_path / "hello_world").mkdir()
    (tmp_path / "hello_world" / "requirements.txt").write_text("requests\n")
    (tmp_path / "hello_world" / "app.py").write_text(
        "import json\nimport requests\n\n\ndef lambda_handler(event, context):\n"
        "    return {'statusCode': 200, 'body': json.dumps({'message': 'hello world', 'requests': requests.__version__})}\n"
    )
    (tmp_path / "hello_world" / "undeclared.py").write_text("import psutil\n\n\ndef lambda_handler(event, context):\n    return 1\n")
    (tmp_path / "template.yaml").write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\n"
        "Globals:\n  Function:\n    Timeout: 3\n"
        "Resources:\n"
        "  HelloWorldFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      CodeUri: hello_world/\n      Handler: app.lambda_handler\n      Runtime: python3.11\n"
        "  UndeclaredFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      CodeUri: hello_world/\n      Handler: undeclared.lambda_handler\n      Runtime: python3.11\n"
    )
    ok = invoke(tmp_path, "HelloWorldFunction", timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(json.loads(ok.stdout)["body"])["message"] == "hello world"
    missing = invoke(tmp_path, "UndeclaredFunction")
    assert json.loads(missing.stdout)["errorMessage"] == "Unable to import module 'undeclared': No module named 'psutil'"


@pytest.mark.skipif(not PY312.is_file(), reason="needs pyenv's Python 3.12.1")
def test_a_python312_function_runs_on_python312_with_its_packages(tmp_path: Path) -> None:
    wheels = build_wheel(tmp_path / "wheels").parent
    root = project(tmp_path / "app", (
        "functions:\n"
        "  new: {handler: app.handler, code: fn, runtime: python3.12}\n"
        "  old: {handler: app.handler, code: plain, runtime: python3.9}\n"
    ), {
        "fn": {"app.py": IMPORTS, "requirements.txt": f"--no-index\n--find-links {wheels}\ntinydep==1.0\n"},
        "plain": {"app.py": IMPORTS},
    })
    new = invoke(root, "new")
    assert new.returncode == 0, new.stderr
    answer = json.loads(new.stdout)
    assert answer["python"] == "3.12" and answer["found"]["tinydep"] and answer["found"]["yaml"] is None
    # INIT_START names what really ran (Lambda's "python:3.12.v<release>"; here the patch release).
    assert "INIT_START Runtime Version: python:3.12.v1\t" in new.stderr
    # No usable Python 3.9 (the worker needs 3.11+): it runs on lambdatop's own, and says so at start.
    old = invoke(root, "old")
    assert old.returncode == 0 and json.loads(old.stdout)["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert "lambdatop: [warning] python3.9 functions run on Python" in old.stderr


async def test_the_dashboard_header_shows_an_install_in_progress_then_its_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdatop.runtime.fleet import Fleet
    from lambdatop.tui.widgets.fleet_header import FleetHeader

    # Installs start with the fleet and run in a subprocess: right after start the state is "installing".
    root = project(tmp_path, "functions:\n  fn: {handler: app.handler, code: fn}\n", {
        "fn": {"app.py": "def handler(event, context):\n    return 1\n", "requirements.txt": "--no-index\nnosuchdep==1.0\n"},
    })
    monkeypatch.delenv("LAMBDATOP_PACKAGES_DIR", raising=False)
    fleet = Fleet(root / "lambdatop.yaml", work_dir=tmp_path / "work")
    events = fleet.subscribe("test", maxlen=1000)
    async with fleet:
        assert fleet.snapshot().packages["fn"].state == "installing"
        header = FleetHeader("lambdatop.yaml").render_header(fleet.snapshot()).plain
        assert "⧗ fn: installing requirements.txt" in header
        while not any(getattr(item, "kind", None) == "broken" for item in await events.wait(1.0)):
            pass
        install = fleet.snapshot().packages["fn"]
        assert install.state == "failed" and "No matching distribution found for nosuchdep==1.0" in install.detail
        header = FleetHeader("lambdatop.yaml").render_header(fleet.snapshot()).plain
        assert "✗ fn: requirements.txt did not install: ERROR: No matching distribution found for nosuchdep==1.0" in header
        # The function still runs, without the package (this one imports nothing of it).
        result = await fleet.invoke("fn", {})
        assert result.record.status == "success"


def test_serve_shows_the_install_and_installs_again_when_requirements_txt_changes(tmp_path: Path) -> None:
    wheels = build_wheel(tmp_path / "wheels").parent
    root = project(tmp_path / "app", "functions:\n  fn: {handler: app.handler, code: fn}\n", {
        "fn": {"app.py": "import tinydep\n\ndef handler(event, context):\n    return tinydep.VERSION\n",
               "requirements.txt": f"--no-index\n--find-links {wheels}\ntinydep==1.0\n"},
    })
    env = {k: v for k, v in os.environ.items() if k != "LAMBDATOP_PACKAGES_DIR"}
    serve = subprocess.Popen([*LAMBDATOP, "--no-aws", "serve", "--port", "0", "--no-api", "--no-store"], cwd=root, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert serve.stderr is not None
        lines: list[str] = []

        def wait_for(text: str) -> None:
            for line in serve.stderr:  # type: ignore[union-attr]
                lines.append(line)
                if text in line:
                    return
            raise AssertionError(f"serve ended before {text!r}:\n{''.join(lines)}")

        wait_for("lambdatop: [packages fn] installing")
        wait_for("lambdatop: [packages fn] Processing")  # pip's own progress, as it goes
        wait_for("lambdatop: [packages fn] installed")
        # A saved change of the file: hot reload's early Init installs the new one.
        build_wheel(tmp_path / "wheels", version="2.0")
        (root / "fn" / "requirements.txt").write_text(f"--no-index\n--find-links {wheels}\ntinydep==2.0\n")
        wait_for("lambdatop: [packages fn] installed")
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def test_the_dependencies_setting_is_checked_where_it_is_written(tmp_path: Path) -> None:
    from lambdatop.runtime.config import load_config
    from lambdatop.runtime.errors import ConfigError

    project(tmp_path, "defaults:\n  dependencies: shared\nfunctions:\n  fn: {handler: app.handler, code: fn}\n"
            "  own: {handler: app.handler, code: fn, dependencies: isolated}\n", {"fn": {"app.py": ""}})
    config = load_config(tmp_path / "lambdatop.yaml")
    assert (config.functions["fn"].dependencies, config.functions["own"].dependencies) == ("shared", "isolated")
    (tmp_path / "lambdatop.yaml").write_text("functions:\n  fn: {handler: app.handler, code: fn, dependencies: global}\n")
    with pytest.raises(ConfigError, match="must be isolated or shared, got 'global'") as error:
        load_config(tmp_path / "lambdatop.yaml")
    assert error.value.line == 2
    template = tmp_path / "template.yaml"
    template.write_text("Transform: AWS::Serverless-2016-10-31\nMetadata:\n  lambdatop: {dependencies: shared}\nResources:\n"
                        "  Fn: {Type: AWS::Serverless::Function, Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.12}}\n")
    assert load_config(template).functions["Fn"].dependencies == "shared"
    template.write_text(template.read_text().replace("{dependencies: shared}", "{dependncies: shared}"))
    with pytest.raises(ConfigError, match="did you mean 'dependencies'"):
        load_config(template)


@pytest.mark.skipif(not PY312.is_file(), reason="needs pyenv's Python 3.12.1")
def test_the_interpreter_lookup_reads_path_then_any_pyenv_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdatop.runtime.execution.interpreters import Interpreters, candidates

    versions = tmp_path / "pyenv" / "versions" / "3.12.7" / "bin"
    versions.mkdir(parents=True)
    (versions / "python3.12").symlink_to(PY312)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("PATH", "/nonexistent")
    assert candidates("3.12") == [str(versions / "python3.12")]
    on_path = tmp_path / "bin"
    on_path.mkdir()
    (on_path / "python3.12").symlink_to(PY312)
    monkeypatch.setenv("PATH", str(on_path))
    assert candidates("3.12") == [str(on_path / "python3.12"), str(versions / "python3.12")]
    choice = Interpreters(tmp_path / "work").for_runtime("python3.12")
    assert choice.warning is None and choice.interpreter.minor == "3.12" and not choice.interpreter.local
    missing = Interpreters(tmp_path / "work").for_runtime("python3.14")
    assert missing.interpreter.local and "no Python 3.14 found" in (missing.warning or "")


@pytest.mark.skipif(not PY312.is_file(), reason="needs pyenv's Python 3.12.1")
def test_a_probed_interpreter_is_remembered_until_its_file_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Probing starts the candidate Python: a fleet start should pay it once per interpreter, not every time.
    from lambdatop.runtime.execution.interpreters import InterpreterChoice, Interpreters

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    on_path, runs = tmp_path / "bin", tmp_path / "runs"
    on_path.mkdir()
    wrapper = on_path / "python3.12"  # counts its runs, then is the real 3.12
    wrapper.write_text(f'#!/bin/sh\necho run >> {runs}\nexec {PY312} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{on_path}:/usr/bin:/bin")

    def choose() -> InterpreterChoice:
        return Interpreters(tmp_path / "work").for_runtime("python3.12")

    first = choose()
    assert first.warning is None and first.interpreter.executable == str(PY312)
    assert runs.read_text().count("run") == 1
    assert choose() == first and runs.read_text().count("run") == 1  # another fleet start: remembered
    wrapper.write_text(wrapper.read_text() + "# edited\n")
    assert choose() == first and runs.read_text().count("run") == 2  # the file changed: probed again
    (tmp_path / "cache" / "lambdatop" / "interpreters.json").write_text("{not json")
    assert choose() == first and runs.read_text().count("run") == 3  # an unreadable cache: probed, never wrong
