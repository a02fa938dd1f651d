"""A public SAM app, unmodified: API → function → DynamoDB → stream → function (aws-samples/serverless-patterns)."""

from __future__ import annotations

import json
from pathlib import Path

from lambdatop.runtime.apigateway.server import ApiGatewayService

from tests.apigw_support import call
from tests.aws_support import Results, aws_fleet, client, copy_app

APP = Path(__file__).resolve().parent / "fixtures" / "serverless_patterns_ddb_stream"


async def test_a_post_to_the_api_port_reaches_the_consumer_through_the_tables_stream(tmp_path: Path) -> None:
    config = copy_app(tmp_path, APP)
    async with aws_fleet(config, api=True) as fleet:
        results = Results(fleet)
        api = next(s for s in fleet.services if isinstance(s, ApiGatewayService))
        item = {"id": "order-1", "name": "widget", "description": "blue", "customer": "ada"}
        # The app's README: curl -X POST <EndpointUrl> -d '{...}' (routes answer without the stage, as in SAM CLI).
        status, _, body = await call("POST", f"{api.url}/", data=json.dumps(item))
        assert (status, body) == (200, b"Successfully inserted data!")
        (produced,) = results.of("ProducerFunction")
        assert str(produced.record.trigger) == "api"
        stored = client(fleet, "dynamodb").get_item(TableName="DemoStreamDynamoDBToLambda", Key={"id": {"S": "order-1"}})
        assert stored["Item"]["customer"] == {"S": "ada"}

        consumed = await results.wait("ConsumerFunction", timeout=20)
        record = json.loads(consumed[0].request)["Records"][0]
        assert record["eventName"] == "INSERT" and record["dynamodb"]["NewImage"]["name"] == {"S": "widget"}
        assert record["dynamodb"]["StreamViewType"] == "NEW_IMAGE" and "OldImage" not in record["dynamodb"]
        assert consumed[0].record.status == "success", consumed[0].log_text
        assert consumed[0].record.source_arn == record["eventSourceARN"]
        assert "order-1" in consumed[0].log_text  # the handler prints the records
