"""A public SAM app, unmodified: API → function → DynamoDB → stream → function (aws-samples/serverless-patterns)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.aws_support import Results, aws_fleet, client, copy_app

APP = Path(__file__).resolve().parent / "fixtures" / "serverless_patterns_ddb_stream"


async def test_the_producers_put_reaches_the_consumer_through_the_tables_stream(tmp_path: Path) -> None:
    config = copy_app(tmp_path, APP)
    async with aws_fleet(config) as fleet:
        results = Results(fleet)
        item = {"id": "order-1", "name": "widget", "description": "blue", "customer": "ada"}
        # The API part is the API Gateway capability's; its proxy event carries the body as text.
        produced = await fleet.invoke("ProducerFunction", {"httpMethod": "POST", "path": "/", "body": json.dumps(item)})
        assert json.loads(produced.response) == {"statusCode": 200, "body": "Successfully inserted data!"}, produced.log_text
        stored = client(fleet, "dynamodb").get_item(TableName="DemoStreamDynamoDBToLambda", Key={"id": {"S": "order-1"}})
        assert stored["Item"]["customer"] == {"S": "ada"}

        consumed = await results.wait("ConsumerFunction", timeout=20)
        record = json.loads(consumed[0].request)["Records"][0]
        assert record["eventName"] == "INSERT" and record["dynamodb"]["NewImage"]["name"] == {"S": "widget"}
        assert consumed[0].record.status == "success", consumed[0].log_text
        assert "order-1" in consumed[0].log_text  # the handler prints the records
