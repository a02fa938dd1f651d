"""Loading SAM templates and lambdatop.yaml; every mistake is named by file, line, function and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lambdatop.runtime.config import load_config
from lambdatop.runtime.errors import ConfigError

SAM = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Mappings:
  Sizes:
    dev: {memory: 256}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Globals:
  Function:
    Runtime: python3.12
    Timeout: 9
    Environment:
      Variables:
        STAGE: !Ref Stage
        SHARED: global
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Api:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-api"
      CodeUri: api/
      Handler: app.handler
      MemorySize: !FindInMap [Sizes, !Ref Stage, memory]
      ReservedConcurrentExecutions: 3
      Tracing: Active
      Environment:
        Variables:
          TABLE: !Ref Table
          TABLE_ARN: !GetAtt Table.Arn
          WORKER_ARN: !GetAtt Worker.Arn
          MODE: !If [IsProd, fast, careful]
          SHARED: own
      Events:
        Get: {Type: Api, Properties: {Path: /, Method: get}}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: worker/
      Handler: jobs.run
"""


def write(tmp_path: Path, name: str, text: str, folders: tuple[str, ...] = ()) -> Path:
    for folder in folders:
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_sam_template_with_globals_and_intrinsics(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "template.yaml", SAM, ("api", "worker")))
    api, worker = config.functions["Api"], config.functions["Worker"]
    assert config.kind == "sam"
    assert api.function_name == f"{tmp_path.name}-api" and "Api" in api.names and api.function_name in api.names
    assert (api.runtime, api.timeout, api.memory_size, api.reserved_concurrency, api.tracing) == ("python3.12", 9, 256, 3, "Active")
    assert api.code_dir == tmp_path / "api"
    assert api.environment == {
        "STAGE": "dev", "SHARED": "own", "TABLE": "<Table>", "TABLE_ARN": "<GetAtt Table.Arn>",
        "WORKER_ARN": "arn:aws:lambda:us-east-1:123456789012:function:Worker", "MODE": "careful",
    }
    assert api.events["Get"]["Type"] == "Api"
    assert (worker.memory_size, worker.timeout, worker.environment) == (128, 9, {"STAGE": "dev", "SHARED": "global"})


def test_lambdatop_yaml_with_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "lambdatop.yaml", """
        account: {concurrency_limit: 50, region: eu-west-1}
        defaults: {timeout: 10, freeze: false, idle_timeout: 30, environment: {A: "1"}}
        functions:
          one: {handler: app.handler}
          two: {handler: pkg/mod.fn, code: elsewhere, memory_size: 1024, freeze: true, environment: {B: 2}}
    """, ("one", "elsewhere"))
    config = load_config(path)
    one, two = config.functions["one"], config.functions["two"]
    assert (config.account_concurrency, config.region) == (50, "eu-west-1")
    assert (one.timeout, one.freeze, one.idle_timeout, one.code_dir) == (10, False, 30.0, tmp_path / "one")
    assert (two.memory_size, two.freeze, two.environment) == (1024, True, {"A": "1", "B": "2"})


def test_lambdatop_yaml_can_lay_settings_over_a_sam_template(tmp_path: Path) -> None:
    write(tmp_path, "template.yaml", SAM, ("api", "worker"))
    path = write(tmp_path, "lambdatop.yaml", """
        template: template.yaml
        defaults: {idle_timeout: 5}
        functions:
          Worker: {freeze: false, timeout: 60}
    """)
    config = load_config(path)
    assert config.functions["Worker"].freeze is False and config.functions["Worker"].timeout == 60
    assert config.functions["Api"].idle_timeout == 5


@pytest.mark.parametrize(
    ("body", "line", "function", "key", "words"),
    [
        ("functions:\n  f:\n    handler: app.handler\n    memory_size: lots\n", 4, "f", "memory_size", "whole number"),
        ("functions:\n  f:\n    handler: app.handler\n    timeout: 901\n", 4, "f", "timeout", "between 1 and 900"),
        ("functions:\n  f:\n    handler: app.handler\n    memory_size: 64\n", 4, "f", "memory_size", "between 128 and 10240"),
        ("functions:\n  f:\n    handler: app.handler\n    timout: 3\n", 4, "f", "timout", "did you mean 'timeout'"),
        ("functions:\n  f:\n    handler: app.handler\n    freeze: sometimes\n", 4, "f", "freeze", "true or false"),
        ("functions:\n  f:\n    handler: app.handler\n    code: missing/\n", 4, "f", "code", "does not exist"),
        ("functions:\n  f:\n    handler: app.handler\n    reserved_concurrency: 950\n", 2, "f", "reserved_concurrency", "unreserved"),
        ("acount: {}\nfunctions:\n  f: {handler: app.handler}\n", 1, None, "acount", "did you mean 'account'"),
    ],
)
def test_config_errors_name_file_line_function_and_key(tmp_path: Path, body: str, line: int, function: str | None, key: str, words: str) -> None:
    path = write(tmp_path, "lambdatop.yaml", body, ("f",))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert (error.line, error.function, error.key) == (line, function, key)
    assert words in str(error)
    assert str(error).startswith(f"{path}:{line}: ")


def test_sam_errors_name_the_property(tmp_path: Path) -> None:
    path = write(tmp_path, "template.yaml", """\
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: fn/
              Handler: app.handler
              Timeout: "soon"
    """, ("fn",))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.line, caught.value.function, caught.value.key) == (7, "Fn", "Timeout")


def test_yaml_syntax_error_says_which_line(tmp_path: Path) -> None:
    path = write(tmp_path, "lambdatop.yaml", "functions:\n  f: {handler: app.handler\n  g: [\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.line is not None and "invalid YAML" in str(caught.value)


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = write(tmp_path, "lambdatop.yaml", "functions: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError):
        load_config(path)


def test_function_names_that_look_like_booleans_stay_names(tmp_path: Path) -> None:
    path = write(tmp_path, "lambdatop.yaml", "functions:\n  off: {handler: app.handler}\n", ("off",))
    assert list(load_config(path).functions) == ["off"]


@pytest.mark.parametrize(
    ("section", "line", "key", "meant"),
    [
        ("store:\n  retension: 5\n", 4, "store.retension", "retention"),
        ("async:\n  delay: 0.1\n", 4, "async.delay", "delay_scale"),
        ("http:\n  prot: 3001\n", 4, "http.prot", "port"),
        ("reload:\n  debounse_ms: 50\n", 4, "reload.debounse_ms", "debounce_ms"),
    ],
)
def test_every_section_is_checked_at_load_with_the_key_probably_meant(
    tmp_path: Path, section: str, line: int, key: str, meant: str
) -> None:
    path = write(tmp_path, "lambdatop.yaml", "functions:\n  f: {handler: app.handler}\n" + section, ("f",))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.line, caught.value.key) == (line, key)
    assert f"(did you mean {meant!r}?)" in str(caught.value)


def test_an_unknown_key_with_no_near_miss_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "lambdatop.yaml", "functions:\n  f: {handler: app.handler}\nhttp:\n  zzz: 1\n", ("f",))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "unknown key in http (known: allow_remote, enabled, host, port)" in str(caught.value)


def test_event_invoke_config_keys_are_checked_per_function(tmp_path: Path) -> None:
    path = write(tmp_path, "lambdatop.yaml", "functions:\n  f:\n    handler: app.handler\n    async: {MaximumRetryAtempts: 1}\n", ("f",))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.function, caught.value.key, caught.value.line) == ("f", "MaximumRetryAtempts", 4)
    assert "did you mean 'MaximumRetryAttempts'?" in str(caught.value)


FUNCTION_WITH = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      {property}
"""


@pytest.mark.parametrize(("written", "meant"), [("Timout: 5", "Timeout"), ("MemorySizee: 256", "MemorySize"),
                                                ("ReservedConcurrentExecution: 2", "ReservedConcurrentExecutions")])
def test_a_sam_property_typo_is_refused_with_its_line_and_the_property_meant(tmp_path: Path, written: str, meant: str) -> None:
    path = write(tmp_path, "template.yaml", FUNCTION_WITH.format(property=written), ("fn",))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert (error.line, error.function, error.key) == (11, "Fn", written.split(":")[0])
    assert str(error) == (f"{path}:11: function 'Fn': {error.key}: "
                          f"unknown key in AWS::Serverless::Function Properties (did you mean {meant!r}?)")


def test_a_sam_function_may_use_any_property_sam_defines(tmp_path: Path) -> None:
    # Properties lambdatop does not act on (an IAM role, an alias, logging) are SAM's own: accepted, not refused.
    path = write(tmp_path, "template.yaml", FUNCTION_WITH.format(property=textwrap.indent(textwrap.dedent("""\
        Role: arn:aws:iam::123456789012:role/r
        AutoPublishAlias: live
        LoggingConfig: {LogFormat: JSON}
        RecursiveLoop: Terminate
        SnapStart: {ApplyOn: None}
        Tags: {team: a}
    """), "      ").lstrip()), ("fn",))
    assert load_config(path).functions["Fn"].handler == "app.handler"


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("Timout: 5", "unknown key in Globals.Function (did you mean 'Timeout'?)"),
        ("Events: {}", "Events is a property of each AWS::Serverless::Function; SAM's Globals.Function does not take it"),
    ],
)
def test_globals_function_takes_only_what_sam_allows_there(tmp_path: Path, key: str, words: str) -> None:
    path = write(tmp_path, "template.yaml", FUNCTION_WITH.format(property="Timeout: 5").replace(
        "    Runtime: python3.12\n", f"    Runtime: python3.12\n    {key}\n"), ("fn",))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.line, caught.value.key) == (5, "Globals.Function." + key.split(":")[0])
    assert words in str(caught.value)


def test_the_sam_globals_list_is_a_subset_of_the_function_properties() -> None:
    from lambdatop.runtime.config.sam_schema import FUNCTION_PROPERTIES, GLOBAL_FUNCTION_PROPERTIES

    assert GLOBAL_FUNCTION_PROPERTIES < FUNCTION_PROPERTIES
    assert {"Handler", "Runtime", "CodeUri", "MemorySize", "Timeout", "Environment", "Layers"} <= GLOBAL_FUNCTION_PROPERTIES
