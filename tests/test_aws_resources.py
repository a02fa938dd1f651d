"""The template's resources exist in the sidecar, and functions see their real local names with dummy credentials."""

from __future__ import annotations

import json
from pathlib import Path

from lambdatop.runtime.aws.service import aws_service

from tests.aws_support import aws_fleet, client, copy_app


async def test_resources_are_created_and_refs_resolve_to_their_local_names(tmp_path: Path) -> None:
    config = copy_app(tmp_path)
    async with aws_fleet(config) as fleet:
        service = aws_service(fleet)
        assert service is not None and service.endpoint_url
        env = fleet.functions["QueueWorker"].environment
        sqs = client(fleet, "sqs")
        urls = sqs.list_queues()["QueueUrls"]
        assert env["QUEUE_URL"] in urls and env["QUEUE_URL"].startswith(service.endpoint_url)
        dlq_url = next(u for u in urls if "DeadLetters" in u)
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        assert env["DLQ_ARN"] == dlq_arn
        assert env["TOPIC"] in [t["TopicArn"] for t in client(fleet, "sns").list_topics()["Topics"]]
        assert env["BUCKET"] in [b["Name"] for b in client(fleet, "s3").list_buckets()["Buckets"]]
        assert env["DESCRIBED"] == f"queue {env['QUEUE_URL'].rsplit('/', 1)[1]} in us-east-1"
        table = fleet.functions["Writer"].environment["TABLE_NAME"]
        assert table in client(fleet, "dynamodb").list_tables()["TableNames"]
        # The state machine is listed as not run, not dropped silently.
        snapshot = fleet.snapshot().extras["aws"]
        workflow = next(r for r in snapshot.resources if r.logical_id == "Workflow")
        assert not workflow.created and "Step Functions" in workflow.note


async def test_a_functions_own_boto3_reaches_the_sidecar_with_dummy_credentials(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHOSTKEYMUSTNOTLEAK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-secret")
    config = copy_app(tmp_path)
    async with aws_fleet(config) as fleet:
        result = await fleet.invoke("Writer", {"item": {"id": "a1", "note": "hello"}})
        body = json.loads(result.response)
        assert body["endpoint"] == aws_service(fleet).endpoint_url
        assert body["key"] != "AKIAHOSTKEYMUSTNOTLEAK" and "host-secret" not in json.dumps(body["env"])
        item = client(fleet, "dynamodb").get_item(TableName=body["table"], Key={"id": {"S": "a1"}})["Item"]
        assert item["note"] == {"S": "hello"}
