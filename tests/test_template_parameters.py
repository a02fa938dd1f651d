"""Template parameters and SAM CLI's `--parameter-overrides` / `--env-vars`, through the real CLI and workers.

CloudFormation refuses a stack whose parameter has no value ("Parameters:
[Stage] must have values") or breaks AllowedValues / AllowedPattern; SAM CLI's
--env-vars file ({"Function": {...}, "Parameters": {...}}) overrides only the
variables a function declares.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lambdatop.runtime.config import load_config
from lambdatop.runtime.errors import ConfigError
from tests.support import lambdatop

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    AllowedValues: [dev, prod]
  Table:
    Type: String
    AllowedPattern: "[a-z-]+"
    Default: orders
  Zones:
    Type: CommaDelimitedList
    Default: "a, b"
Globals:
  Function:
    Environment:
      Variables:
        SHARED: from-template
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Environment:
        Variables:
          STAGE: !Ref Stage
          TABLE: !Ref Table
          ZONE: !Select [1, !Ref Zones]
          OWN: from-template
"""


def project(root: Path) -> Path:
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text(textwrap.dedent("""\
        import os
        def handler(event, context):
            return {k: os.environ.get(k) for k in ("STAGE", "TABLE", "ZONE", "OWN", "SHARED", "UNDECLARED")}
        """))
    (root / "template.yaml").write_text(TEMPLATE)
    return root / "template.yaml"


def test_a_parameter_without_default_or_value_is_an_error_that_names_it(tmp_path: Path) -> None:
    project(tmp_path)
    done = lambdatop("invoke", "Fn", cwd=tmp_path)
    assert done.returncode == 2
    assert "template.yaml:3: Parameters.Stage: Parameters: [Stage] must have values" in done.stderr
    assert "--parameter-overrides Stage=VALUE" in done.stderr and "<Parameter" not in done.stdout + done.stderr


def test_overrides_in_both_sam_spellings_reach_the_function(tmp_path: Path) -> None:
    project(tmp_path)
    done = lambdatop("invoke", "Fn", "--parameter-overrides", "Stage=prod Zones='x, y z'",
                     "--parameter-overrides", "ParameterKey=Table,ParameterValue=line-items", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["STAGE"], answer["TABLE"], answer["ZONE"]) == ("prod", "line-items", "y z")


def test_allowed_values_and_pattern_are_checked_as_cloudformation_does(tmp_path: Path) -> None:
    project(tmp_path)
    bad_value = lambdatop("invoke", "Fn", "--parameter-overrides", "Stage=qa", cwd=tmp_path)
    assert bad_value.returncode == 2
    assert "template.yaml:3: Parameters.Stage: Parameter 'Stage' must be one of AllowedValues" in bad_value.stderr
    bad_pattern = lambdatop("invoke", "Fn", "--parameter-overrides", "Stage=dev Table=Orders_1", cwd=tmp_path)
    assert bad_pattern.returncode == 2
    assert "Parameters.Table: Parameter 'Table' must match pattern [a-z-]+" in bad_pattern.stderr
    malformed = lambdatop("invoke", "Fn", "--parameter-overrides", "Stage", cwd=tmp_path)
    assert malformed.returncode == 2 and "use Key=Value or ParameterKey=Key,ParameterValue=Value" in malformed.stderr


def test_env_vars_file_overrides_declared_variables_only_as_sam_cli_does(tmp_path: Path) -> None:
    project(tmp_path)
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"Parameters": {"SHARED": "all", "OWN": "all"}, "Fn": {"OWN": "fn", "UNDECLARED": "x"},
                               "Nope": {"A": "b"}}))
    done = lambdatop("invoke", "Fn", "--parameter-overrides", "Stage=dev", "--env-vars", str(env), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["SHARED"], answer["OWN"], answer["UNDECLARED"]) == ("all", "fn", None)  # the function's own wins
    assert "function 'Fn' does not declare UNDECLARED in Environment.Variables" in done.stderr
    assert "'Nope' is not a function of template.yaml" in done.stderr
    env.write_text("[1]")
    done = lambdatop("invoke", "Fn", "--parameter-overrides", "Stage=dev", "--env-vars", str(env), cwd=tmp_path)
    assert done.returncode == 2 and "--env-vars: expected an object" in done.stderr


def test_serve_takes_the_same_flags(tmp_path: Path, lambda_client) -> None:  # type: ignore[no-untyped-def]
    project(tmp_path)
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"Fn": {"OWN": "from --env-vars"}}))
    process = subprocess.Popen(
        [sys.executable, "-m", "lambdatop.tui.cli", "serve", "--port", "0", "--api-port", "0", "--no-aws", "--no-store",
         "--parameter-overrides", "Stage=prod", "--env-vars", str(env)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        url = serve_url(process)
        answer = json.loads(lambda_client(url).invoke(FunctionName="Fn", Payload=b"{}")["Payload"].read())
        assert (answer["STAGE"], answer["OWN"]) == ("prod", "from --env-vars")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    helptext = lambdatop("--help", cwd=tmp_path).stdout  # the dashboard
    assert "--parameter-overrides" in helptext and "--env-vars" in helptext


def serve_url(process: subprocess.Popen[str]) -> str:
    """The endpoint URL from serve's banner (`Lambda API   http://127.0.0.1:PORT`)."""
    assert process.stdout is not None
    for line in process.stdout:
        found = re.match(r"Lambda API\s+(http://127\.0\.0\.1:\d+)$", line.strip())
        if found:
            return found.group(1)
    raise AssertionError(f"serve exited early with {process.wait(5)}")


def test_a_reload_reads_the_template_with_the_same_inputs(tmp_path: Path) -> None:
    from lambdatop.runtime.config import TemplateInputs
    from lambdatop.runtime.config.parameters import parse_overrides

    config = load_config(project(tmp_path), inputs=TemplateInputs(parameters=parse_overrides(["Stage=dev"])))
    assert config.functions["Fn"].environment["STAGE"] == "dev"
    again = load_config(config.path, inputs=config.inputs)  # what Fleet.read_config does on a reload
    assert again.functions["Fn"].environment["STAGE"] == "dev"
    with pytest.raises(ConfigError, match=r"Parameters: \[Stage\] must have values"):
        load_config(config.path)
