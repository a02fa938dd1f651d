"""`lambdatop events`: templates in AWS's shapes, parameters, errors, and piping into `lambdatop invoke`."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess

import pytest

from lambdatop.tui.cli import main
from lambdatop.tui.sample_events import BadTemplateValue, find_template, load_templates

from .conftest import SAMPLE_TEMPLATE
from .support import LAMBDATOP



def generate(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["events", "generate", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_every_source_the_dashboard_offers_is_there() -> None:
    names = set(load_templates())
    assert {
        "apigateway-aws-proxy", "apigateway-http-api-proxy", "function-url", "s3-put", "sns-notification",
        "sqs-receive-message", "eventbridge-event", "scheduled-event", "dynamodb-update", "kinesis-get-records",
    } <= names
    for template in load_templates().values():
        json.loads(template.render_json())  # every template renders to JSON with its defaults


def test_shapes_are_the_ones_aws_sends(capsys: pytest.CaptureFixture[str]) -> None:
    v1 = generate(capsys, "apigateway-v1", "--method", "GET", "--path", "/pets/7")
    assert (v1["httpMethod"], v1["path"], v1["requestContext"]["httpMethod"]) == ("GET", "/pets/7", "GET")
    assert v1["requestContext"]["path"] == "/prod/pets/7" and v1["isBase64Encoded"] is False
    assert {"multiValueHeaders", "multiValueQueryStringParameters", "pathParameters", "stageVariables"} <= set(v1)

    v2 = generate(capsys, "apigateway-v2", "--path", "/pets", "--method", "PUT")
    assert v2["version"] == "2.0" and v2["rawPath"] == "/pets" and v2["requestContext"]["http"]["method"] == "PUT"
    assert "multiValueHeaders" not in v2

    url = generate(capsys, "function-url")
    assert url["requestContext"]["domainName"].endswith(".lambda-url.us-west-2.on.aws")

    s3 = generate(capsys, "s3", "put", "--bucket", "photos", "--key", "2024/cat one.jpg", "--size", "2048")
    obj = s3["Records"][0]["s3"]
    assert s3["Records"][0]["eventName"] == "ObjectCreated:Put"
    assert obj["bucket"]["arn"] == "arn:aws:s3:::photos"
    assert obj["object"] == {**obj["object"], "key": "2024%2Fcat+one.jpg", "size": 2048}  # URL-encoded key, integer size

    sqs = generate(capsys, "sqs", "--body", '{"order": 1}', "--queue", "orders")
    message = sqs["Records"][0]
    assert message["body"] == '{"order": 1}' and message["eventSource"] == "aws:sqs"
    assert message["md5OfBody"] == hashlib.md5(b'{"order": 1}').hexdigest()
    assert message["eventSourceARN"] == "arn:aws:sqs:us-east-2:123456789012:orders"

    kinesis = generate(capsys, "kinesis", "--data", "hi there")
    assert base64.b64decode(kinesis["Records"][0]["kinesis"]["data"]) == b"hi there"

    bridge = generate(capsys, "eventbridge", "--detail", '{"state": "running"}', "--detail-type", "X")
    assert bridge["detail"] == {"state": "running"} and bridge["detail-type"] == "X"

    schedule = generate(capsys, "schedule", "--rule", "nightly")
    assert schedule["detail-type"] == "Scheduled Event" and schedule["resources"] == ["arn:aws:events:us-east-2:123456789012:rule/nightly"]

    sns = generate(capsys, "sns", "--message", "hello")
    assert sns["Records"][0]["Sns"]["Message"] == "hello" and sns["Records"][0]["EventSource"] == "aws:sns"

    ddb = generate(capsys, "dynamodb")
    assert [r["eventName"] for r in ddb["Records"]] == ["INSERT", "MODIFY"]


def test_bad_input_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "generate", "carrier-pigeon"]) == 2
    assert "no event template 'carrier-pigeon'" in capsys.readouterr().err
    assert main(["events", "generate", "s3-put", "--colour", "red"]) == 2
    assert "unknown parameter --colour" in capsys.readouterr().err
    assert main(["events", "generate", "s3-put", "--size", "big"]) == 2
    assert "--size must be an integer" in capsys.readouterr().err
    with pytest.raises(BadTemplateValue):
        find_template("eventbridge").render({"detail": "{not json"})


def test_list_names_templates_and_the_functions_own_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "list", "--function", "hello", "--config", str(SAMPLE_TEMPLATE)]) == 0
    out = capsys.readouterr().out
    assert "s3-put" in out and "sqs-receive-message" in out and "hello/events/basic.json" in out


def test_generated_event_pipes_into_invoke() -> None:
    generated = subprocess.run([*LAMBDATOP, "events", "generate", "sqs", "--body", "ping"], capture_output=True, check=True, timeout=30)
    invoked = subprocess.run(
        [*LAMBDATOP, "invoke", "hello", "--event", "-", "--config", str(SAMPLE_TEMPLATE)],
        input=generated.stdout, capture_output=True, timeout=60, check=False,
    )
    assert invoked.returncode == 0, invoked.stderr.decode()
    assert json.loads(invoked.stdout)["message"] == "Hello, world!"  # an SQS event has no "name"
