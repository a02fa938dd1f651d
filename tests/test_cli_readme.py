"""The README's AWS CLI example, run as written against `lambdatop serve`, with every AWS CLI on this machine.

The `[test]` extra installs AWS CLI v1 into the venv; a v2 (`/usr/bin/aws` from Debian's `awscli`, or
AWS's installer in /usr/local) is used too when one is installed. The two read an inline `--payload`
differently (v1 raw, v2 base64), so the example must use a form both accept.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_ROOT, SAMPLE_TEMPLATE

VENV_AWS = Path(sys.executable).with_name("aws")
SYSTEM_AWS = [Path("/usr/local/bin/aws"), Path("/usr/bin/aws")]


def http_section() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    return text[text.index("<!-- section:http -->"):text.index("<!-- /section:http -->")]


def aws_cli_example() -> list[str]:
    """The shell block of the HTTP section that runs `aws lambda`: its commands, one a line."""
    for block in re.findall(r"```sh\n(.*?)```", http_section(), re.S):
        if "aws lambda invoke" in block:
            return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    raise AssertionError("the HTTP section has no `aws lambda invoke` example")


def major_version(aws: Path) -> str | None:
    try:
        done = subprocess.run([str(aws), "--version"], capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    found = re.match(r"aws-cli/(\d+)\.", (done.stdout or done.stderr).strip())
    return found.group(1) if found else None


def clis() -> list[tuple[str, Path]]:
    found = [("v1 (venv)", VENV_AWS)]
    for path in SYSTEM_AWS:
        if major_version(path) == "2":
            found.append(("v2", path))
            break
    return found


@pytest.fixture(scope="module")
def serve_url() -> str:
    """`lambdatop serve --port 0` on the sample functions (nothing recorded); its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "lambdatop.tui.cli", "serve", "--port", "0", "--no-store", "--no-watch", "-q",
         "-c", str(SAMPLE_TEMPLATE)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            found = re.match(r"Lambda API\s+(http://127\.0\.0\.1:\d+)$", line.strip())
            if found:
                yield found.group(1)
                break
        else:
            raise AssertionError(f"serve exited early with {process.wait(5)}")
    finally:
        process.terminate()
        process.wait(30)


def test_the_example_sends_its_payload_in_a_form_both_cli_versions_accept() -> None:
    invokes = [line for line in aws_cli_example() if line.startswith("aws lambda invoke") and "--payload" in line]
    assert invokes
    for line in invokes:
        payload = shlex.split(line)[shlex.split(line).index("--payload") + 1]
        assert payload.startswith("fileb://"), f"v1 reads an inline payload raw, v2 as base64: {line}"
    assert "--cli-binary-format" not in " ".join(aws_cli_example())  # v2 only: v1 rejects it


@pytest.mark.parametrize(("version", "aws"), clis(), ids=[name for name, _ in clis()])
def test_the_readme_aws_cli_example_runs_as_written(serve_url: str, tmp_path: Path, version: str, aws: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").symlink_to(aws)  # `aws` in the example is this one
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", HOME=str(tmp_path),
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    script = "set -e\n" + "\n".join(aws_cli_example()).replace("http://127.0.0.1:3001", serve_url) + "\n"
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"StatusCode": 200' in done.stdout and "hello" in done.stdout  # the invoke, then list-functions
    assert (tmp_path / "out.json").read_text().startswith('{"message": "Hello, cli!"')
