"""Event source mappings answer on the Lambda endpoint; disabling one pauses it, enabling resumes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import boto3
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.services import ServiceOptions, attach_standard_services
from lambdatop.runtime.triggers.sqs_poller import LONG_POLL_S

from tests.aws_support import Results, client, copy_app


async def test_list_get_update_event_source_mappings_and_enabled_false_pauses(tmp_path: Path) -> None:
    fleet = Fleet(copy_app(tmp_path))
    attach_standard_services(fleet, ServiceOptions(port=0, watch=False, store=True, aws_port=0))
    async with fleet:
        results = Results(fleet)
        lam = boto3.client("lambda", endpoint_url=fleet.endpoint, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test")
        listed = await asyncio.to_thread(lam.list_event_source_mappings, FunctionName="QueueWorker")
        (mapping,) = listed["EventSourceMappings"]
        assert mapping["EventSourceArn"].startswith("arn:aws:sqs:") and mapping["FunctionArn"].endswith(":function:QueueWorker")
        assert (mapping["BatchSize"], mapping["State"], mapping["FunctionResponseTypes"]) == (10, "Enabled", ["ReportBatchItemFailures"])
        every = (await asyncio.to_thread(lam.list_event_source_mappings))["EventSourceMappings"]
        assert {m["EventSourceArn"].split(":")[2] for m in every} == {"sqs", "dynamodb"}  # push sources are not mappings

        updated = await asyncio.to_thread(lam.update_event_source_mapping, UUID=mapping["UUID"], Enabled=False, BatchSize=5)
        assert (updated["State"], updated["BatchSize"]) == ("Disabled", 5)
        got = await asyncio.to_thread(lam.get_event_source_mapping, UUID=mapping["UUID"])
        assert got["State"] == "Disabled"
        await asyncio.sleep(LONG_POLL_S + 0.5)  # a long poll under way when it was disabled still finishes its batch
        queue = fleet.functions["QueueWorker"].environment["QUEUE_URL"]
        client(fleet, "sqs").send_message(QueueUrl=queue, MessageBody="waits")
        await asyncio.sleep(3.0)
        assert results.of("QueueWorker") == []

        await asyncio.to_thread(lam.update_event_source_mapping, UUID=mapping["UUID"], Enabled=True)
        fired = await results.wait("QueueWorker")
        assert "waits" in fired[0].request.decode()
