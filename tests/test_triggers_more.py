"""The rest of Lambda's event source semantics: visibility timeouts, ParallelizationFactor, AT_TIMESTAMP,
raw EventSourceMapping resources, push sources' ARNs, and Secrets Manager secrets of the template."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

from lambdatop.runtime.aws.service import aws_service
from lambdatop.runtime.reload.service import ReloadService
from lambdatop.runtime.triggers.service import trigger_service
from lambdatop.runtime.triggers.stream_poller import lane_of

from tests.aws_support import Results, aws_fleet, client, copy_app, event_of

APP = Path(__file__).resolve().parent / "fixtures" / "aws_sources"


def _name(fleet, logical_id: str) -> str:
    return aws_service(fleet).values.names[logical_id]


async def _mapping(fleet, function: str, where=lambda m: True, timeout: float = 20.0):
    service = trigger_service(fleet)
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in service.snapshot() if m.function == function and where(m)]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"{function}: {[m for m in service.snapshot() if m.function == function]}")
        await asyncio.sleep(0.1)


async def test_a_failed_batch_comes_back_after_the_visibility_timeout_and_a_longer_function_timeout_is_refused(
        tmp_path: Path) -> None:
    config = copy_app(tmp_path, APP)
    async with aws_fleet(config, watch=True) as fleet:
        results = Results(fleet)
        sqs = client(fleet, "sqs")
        sent = sqs.send_message(QueueUrl=_name(fleet, "Hidden"), MessageBody="retry me")["MessageId"]
        first, second = await results.wait("Flaky", count=2, timeout=30)
        assert first.record.status != "success" and second.record.status == "success", second.log_text
        again = event_of(second)["Records"][0]
        assert again["messageId"] == sent and again["attributes"]["ApproximateReceiveCount"] == "2"
        # Hidden for the queue's VisibilityTimeout (2 s) after the failed receive, then visible again.
        assert second.record.started_at - first.record.started_at >= 1.5

        # TooSlow's timeout (10 s) is longer than its queue's VisibilityTimeout (3 s): Lambda refuses the mapping.
        sqs.send_message(QueueUrl=_name(fleet, "Short"), MessageBody="never polled")
        refused = await _mapping(fleet, "TooSlow", lambda m: m.state == "Refused")
        assert refused.last_error == ("InvalidParameterValueException: Queue visibility timeout: 3 seconds "
                                      "is less than Function timeout: 10 seconds")
        attributes = sqs.get_queue_attributes(QueueUrl=_name(fleet, "Short"), AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "1" and not results.of("TooSlow")

        # A reload that makes the function's timeout fit lets the mapping poll: the message waiting is delivered.
        config.write_text(config.read_text().replace("      Timeout: 10\n", "      Timeout: 3\n"))
        (delivered,) = await results.wait("TooSlow", timeout=40)
        assert event_of(delivered)["Records"][0]["body"] == "never polled"
        assert (await _mapping(fleet, "TooSlow")).state == "Enabled"


async def test_parallelization_factor_runs_lanes_of_a_shard_concurrently_each_in_key_order(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path, APP)) as fleet:
        results = Results(fleet)
        keys = [f"key-{n}" for n in range(8)]
        entries = [{"Data": f"{key}/{i}".encode(), "PartitionKey": key} for i in range(3) for key in keys]
        client(fleet, "kinesis").put_records(StreamName=_name(fleet, "Lanes"), Records=entries)  # one read brings all

        def delivered() -> list[dict]:
            return [r for res in results.of("Parallel") if res.record.status == "success" for r in event_of(res)["Records"]]

        await results.wait("Parallel", where=lambda r: len(delivered()) >= 24, timeout=30)
        runs = sorted(results.of("Parallel"), key=lambda r: r.record.invoke_started_at)
        for run in runs:  # a batch is one lane's: every record's key hashes to the same bucket
            assert len({lane_of(r, 4) for r in event_of(run)["Records"]}) == 1
        assert len({lane_of(r, 4) for r in delivered()}) > 1
        order = [base64.b64decode(r["kinesis"]["data"]).decode() for run in runs for r in event_of(run)["Records"]]
        for key in keys:
            assert [o for o in order if o.startswith(f"{key}/")] == [f"{key}/{i}" for i in range(3)]
        overlapping = any(a.record.invoke_ended_at > b.record.invoke_started_at for a, b in zip(runs, runs[1:], strict=False))
        assert overlapping, "the lanes ran one after another"


async def test_starting_position_at_timestamp_reads_the_records_from_that_time_on(tmp_path: Path) -> None:
    config = copy_app(tmp_path, APP)
    async with aws_fleet(config, watch=True) as fleet:
        results = Results(fleet)
        kinesis = client(fleet, "kinesis")
        stream = _name(fleet, "Stamped")
        kinesis.put_record(StreamName=stream, Data=b"before", PartitionKey="p")
        at = time.time()
        kinesis.put_record(StreamName=stream, Data=b"after", PartitionKey="p")
        config.write_text(config.read_text().replace("      Handler: app.echo\n  RawConsumer:", f"""      Handler: app.echo
      Events:
        Stamped:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Stamped.Arn
            StartingPosition: AT_TIMESTAMP
            StartingPositionTimestamp: {at}
  RawConsumer:"""))
        reload = next(s for s in fleet.services if isinstance(s, ReloadService))
        for _ in range(200):
            if fleet.functions["FromStamp"].events:
                break
            await asyncio.sleep(0.1)
        await reload.settled(timeout=20)
        kinesis.put_record(StreamName=stream, Data=b"later", PartitionKey="p")
        await results.wait("FromStamp", where=lambda r: any(
            base64.b64decode(x["kinesis"]["data"]) == b"later" for x in event_of(r)["Records"]), timeout=30)
        seen = [base64.b64decode(x["kinesis"]["data"]) for r in results.of("FromStamp") for x in event_of(r)["Records"]]
        assert seen == [b"after", b"later"]  # not "before" (TRIM_HORIZON), and "after" too (not LATEST)


async def test_a_raw_event_source_mapping_resource_runs_like_the_functions_sqs_event(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path, APP)) as fleet:
        results = Results(fleet)
        sqs = client(fleet, "sqs")
        for n in range(3):
            sqs.send_message(QueueUrl=_name(fleet, "Jobs"), MessageBody=f"job {n}")
        await results.wait("RawConsumer", where=lambda r: len(event_of(r)["Records"]) == 3 or len(results.of("RawConsumer")) > 1)
        bodies = sorted(r["body"] for res in results.of("RawConsumer") for r in event_of(res)["Records"])
        assert bodies == ["job 0", "job 1", "job 2"]
        mapping = await _mapping(fleet, "RawConsumer")
        assert (mapping.event, mapping.kind, mapping.batch_size) == ("JobsMapping", "sqs", 5)
        assert mapping.source_arn.endswith(":" + _name(fleet, "Jobs").rsplit("/", 1)[-1])
        assert not [r for r in aws_service(fleet).snapshot().resources if r.logical_id == "JobsMapping"]  # not "not created"
        assert results.of("RawConsumer")[0].record.source_arn == mapping.source_arn


async def test_push_invocations_carry_the_bucket_topic_or_rule_arn(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path, APP)) as fleet:
        results = Results(fleet)
        await _mapping(fleet, "Pushed", lambda m: m.kind == "eventbridge" and ":rule/" in m.source_arn)
        bucket, topic = _name(fleet, "Uploads"), _name(fleet, "Alerts")
        client(fleet, "s3").put_object(Bucket=bucket, Key="a.txt", Body=b"x")
        client(fleet, "sns").publish(TopicArn=topic, Message="alert")
        client(fleet, "events").put_events(Entries=[{"Source": "tests.more", "DetailType": "Happened", "Detail": "{}"}])
        runs = await results.wait("Pushed", count=3, timeout=30)
        by_trigger = {str(r.record.trigger): r.record.source_arn for r in runs}
        assert by_trigger["s3"] == f"arn:aws:s3:::{bucket}"
        assert by_trigger["sns"] == topic
        assert by_trigger["eventbridge"].startswith("arn:aws:events:us-east-1:") and ":rule/" in by_trigger["eventbridge"]


async def test_a_secrets_manager_secret_of_the_template_exists_and_a_function_reads_it(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path, APP)) as fleet:
        arn = fleet.functions["ReadsSecret"].environment["SECRET_ARN"]
        assert arn.startswith("arn:aws:secretsmanager:us-east-1:")
        result = await fleet.invoke("ReadsSecret", {})
        assert result.record.status == "success", result.log_text
        read = json.loads(result.response)
        assert read["arn"] == arn and read["secret"]["username"] == "app"
        password = read["secret"]["password"]
        assert len(password) == 24 and password.isalnum()
        (secret,) = [r for r in aws_service(fleet).snapshot().resources if r.logical_id == "ApiKey"]
        assert secret.created and secret.physical_id == arn
