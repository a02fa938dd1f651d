"""`lambdatop schedules list|fire` from the shell: next fire times from the config alone; fire one now like
`invoke --async`, its log on stderr, the exit code the outcome."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from tests.test_cli_invoke import lambdatop

PROJECT = """
    functions:
      job:
        handler: app.handler
        events:
          Nightly: {Type: Schedule, Properties: {Schedule: "cron(0 3 * * ? *)", Input: '{"job": "nightly"}'}}
          Off: {Type: Schedule, Properties: {Schedule: rate(5 minutes), Enabled: false}}
          Morning:
            Type: ScheduleV2
            Properties: {ScheduleExpression: "cron(0 9 ? * MON-FRI *)", ScheduleExpressionTimezone: Europe/Paris}
      broken:
        handler: app.handler
        code: job
        events:
          Hourly: {Type: Schedule, Properties: {Schedule: rate(1 hour), Input: '{"fail": true}'}}
"""
HANDLER = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("the job broke")
    print("job ran with", event)
    return event
"""


def project(tmp_path: Path) -> Path:
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / "app.py").write_text(textwrap.dedent(HANDLER))
    config = tmp_path / "lambdatop.yaml"
    config.write_text(textwrap.dedent(PROJECT) + "async: {delay_scale: 0.001}\n")
    return config


def test_list_shows_next_fire_times_from_the_config_alone(tmp_path: Path) -> None:
    config = project(tmp_path)
    done = lambdatop("schedules", "list", "--json", "--next", "3", "-c", str(config))
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert set(rows) == {"jobNightly", "jobOff", "jobMorning", "brokenHourly"}
    nightly = rows["jobNightly"]
    assert [t[10:] for t in nightly["next"]] == ["T03:00:00Z"] * 3
    assert [datetime.fromisoformat(t) for t in nightly["next"]] == sorted(datetime.fromisoformat(t) for t in nightly["next"])
    assert datetime.fromisoformat(nightly["next"][0]) > datetime.now(UTC)
    assert (rows["jobOff"]["enabled"], rows["jobOff"]["next"]) == (False, [])
    # 09:00 in Paris is 08:00 UTC in winter, 07:00 UTC in summer; weekdays only.
    for moment in map(datetime.fromisoformat, rows["jobMorning"]["next"]):
        assert moment.hour in (7, 8) and moment.weekday() < 5
    assert rows["brokenHourly"]["counts_from_start"] is True

    table = lambdatop("schedules", "list", "-c", str(config))
    assert table.returncode == 0
    lines = table.stdout.decode().splitlines()
    assert lines[0].split() == ["SCHEDULE", "FUNCTION", "EXPRESSION", "ZONE", "STATE", "NEXT", "FIRE", "(UTC)"]
    assert any(line.startswith("jobOff") and "disabled" in line for line in lines)


def test_fire_delivers_now_and_exits_with_the_outcome(tmp_path: Path) -> None:
    config = project(tmp_path)
    done = lambdatop("schedules", "fire", "Nightly", "-c", str(config))
    assert done.returncode == 0, done.stderr
    accepted = json.loads(done.stdout)
    assert (accepted["StatusCode"], accepted["FunctionName"], accepted["Schedule"]) == (202, "job", "jobNightly")
    log = done.stderr.decode()
    assert "job ran with {'job': 'nightly'}" in log and f"START RequestId: {accepted['RequestId']}" in log
    assert "delivered 1 event(s)" in log

    failed = lambdatop("schedules", "fire", "brokenHourly", "-c", str(config))
    assert failed.returncode == 1, failed.stderr
    assert "failed for good" in failed.stderr.decode() and "the job broke" in failed.stderr.decode()

    unknown = lambdatop("schedules", "fire", "Weekly", "-c", str(config))
    assert unknown.returncode == 2 and "no schedule named 'Weekly'" in unknown.stderr.decode()
    assert "jobNightly" in unknown.stderr.decode()


def test_a_bad_expression_is_a_config_error_naming_the_line(tmp_path: Path) -> None:
    config = project(tmp_path)
    config.write_text(config.read_text().replace("cron(0 3 * * ? *)", "cron(0 3 * * *)"))
    done = lambdatop("schedules", "list", "-c", str(config))
    assert done.returncode == 2
    assert f"{config}:6: function 'job': events.Nightly.Properties.Schedule: " in done.stderr.decode()
    assert "cron takes 6 fields" in done.stderr.decode()
