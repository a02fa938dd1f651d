"""The commands speak one language: the same flags mean the same thing, headings match their values, mistakes get help."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest
from lambdatop.tui.cli import build_parser

from .support import lambdatop

SLOW = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"custom": context.client_context.custom if context.client_context else None}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose store holds one run: a 1.1 s invocation of `slow` and one throttled beside it."""
    root = tmp_path_factory.mktemp("consistency")
    for name in ("slow", "hello"):
        (root / name).mkdir()
        (root / name / "app.py").write_text(SLOW)
    (root / "lambdatop.yaml").write_text(
        "functions:\n  slow: {handler: app.handler, timeout: 5, reserved_concurrency: 1}\n  hello: {handler: app.handler}\n")
    (root / "sleep.json").write_text('{"sleep": 1.1}')
    done = lambdatop("invoke", "slow", "-n", "2", "-C", "2", "--event", "sleep.json", "--json", cwd=root)
    summary = json.loads(done.stdout)
    assert (summary["ok"], summary["throttles"]) == (1, 1), done.stderr
    return root


def test_stats_columns_headed_ms_hold_milliseconds(project: Path) -> None:
    done = lambdatop("stats", cwd=project)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    columns = header.split()
    slow = next(row.split() for row in rows if row.startswith("slow"))
    # "p50 ms" is two words in the header: map each heading "pNN"/"max" to its value in the row.
    headings = [word for word in columns if word != "ms" and word != "MB"]
    value = dict(zip(headings, slow, strict=False))
    for heading in ("p50", "p90", "p99", "max"):
        assert not value[heading].endswith("s"), f"{heading} ms shows {value[heading]}"
        assert 1100 <= float(value[heading]) < 5000


def test_run_last_is_accepted_wherever_a_run_is(project: Path) -> None:
    runs = lambdatop("record", "runs", cwd=project)
    last = runs.stdout.splitlines()[1].split()[0]
    for command in (["stats"], ["stats", "--json"], ["traces", "list"], ["traces", "export"], ["record", "export"]):
        by_word = lambdatop(*command, "--run", "last", cwd=project)
        by_id = lambdatop(*command, "--run", last, cwd=project)
        assert by_word.returncode == 0, (command, by_word.stderr)
        assert by_word.stdout == by_id.stdout and by_word.stdout.strip(), command
    wrong = lambdatop("stats", "--run", "yesterday", cwd=project)
    assert wrong.returncode == 2 and "--run takes a run id (see `lambdatop record runs`) or 'last'" in wrong.stderr


def test_traces_list_calls_a_throttle_throttled(project: Path) -> None:
    done = lambdatop("traces", "list", "-f", "slow", cwd=project)
    statuses = sorted(line.split()[-1] for line in done.stdout.splitlines()[1:])
    assert statuses == ["ok", "throttled"], done.stdout


@pytest.mark.parametrize("command", [
    ["stats"], ["traces", "list"], ["traces", "export"], ["events", "list"], ["record", "export"], ["replay"],
], ids=" ".join)
def test_f_is_function_in_every_command(command: list[str]) -> None:
    assert build_parser().parse_args([*command, "-f", "hello"]).function == "hello"


def test_traces_export_takes_its_format_by_the_long_name_only(project: Path) -> None:
    chrome = lambdatop("traces", "export", "--format", "chrome", "-f", "hello", cwd=project)
    assert chrome.returncode == 0 and json.loads(chrome.stdout)["traceEvents"] == []  # hello never ran
    slow = json.loads(lambdatop("traces", "export", "-f", "slow", cwd=project).stdout)
    assert len(slow["Traces"]) == 2


def test_serve_help_names_its_values_host_and_port(tmp_path: Path) -> None:
    done = lambdatop("serve", "--help", cwd=tmp_path)
    assert "--host HOST" in done.stdout and "--port PORT" in done.stdout
    assert "SERVE_" not in done.stdout


@pytest.mark.parametrize(("context", "message"), [
    ("{bad", "--client-context is not valid JSON"),
    ("[1, 2]", "--client-context must be a JSON object"),
])
def test_a_client_context_that_is_not_a_json_object_is_a_usage_error(project: Path, context: str, message: str) -> None:
    done = lambdatop("invoke", "hello", "--client-context", context, cwd=project)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"lambdatop: {message}") and repr(context) in done.stderr


def test_a_valid_client_context_reaches_the_function(project: Path) -> None:
    once = lambdatop("invoke", "hello", "--client-context", '{"custom": {"k": "v"}}', cwd=project)
    assert once.returncode == 0 and json.loads(once.stdout) == {"custom": {"k": "v"}}, once.stderr


def test_an_unknown_function_gets_a_suggestion_or_the_list_of_names(project: Path) -> None:
    typo = lambdatop("invoke", "slwo", cwd=project)
    assert typo.returncode == 3 and "(ResourceNotFoundException)" in typo.stderr  # still in Lambda's words
    assert typo.stderr.splitlines()[-1] == "lambdatop: did you mean 'slow'?"
    nothing_like = lambdatop("invoke", "zzz", cwd=project)
    assert nothing_like.stderr.splitlines()[-1] == "lambdatop: the functions are: hello, slow"
    for command in (["logs", "helo"], ["stats", "-f", "helo"], ["traces", "list", "-f", "helo"], ["events", "list", "-f", "helo"]):
        done = lambdatop(*command, cwd=project)
        assert done.returncode == 2, command
        assert done.stderr.strip().endswith("no function named 'helo' in " + str(project / "lambdatop.yaml")
                                            + "; did you mean 'hello'?"), (command, done.stderr)


def test_version_comes_from_the_package_metadata(tmp_path: Path) -> None:
    done = lambdatop("--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"lambdatop {importlib.metadata.version('lambdatop')}"
