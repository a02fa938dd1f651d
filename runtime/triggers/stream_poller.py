"""A DynamoDB or Kinesis stream event source mapping: each shard read in order, as Lambda does.

Per shard: an iterator from StartingPosition, batches of up to BatchSize
records (within the batching window), filtered, invoked synchronously. A
failed batch is retried until MaximumRetryAttempts or MaximumRecordAgeInSeconds
gives up (then its description goes to the on-failure destination and the
shard moves on); BisectBatchOnFunctionError splits a failing batch in two and
retries the halves; ReportBatchItemFailures resumes from the first failed
sequence number. Throttles back off and retry without counting as attempts.
With ParallelizationFactor N, what one read brings back is split into N lanes
by the hash of each record's partition key (a DynamoDB item's keys), and the
lanes are invoked concurrently: records of one key stay in order, as on Lambda.
StartingPosition AT_TIMESTAMP (Kinesis) starts at StartingPositionTimestamp.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any

from lambdatop.runtime.aws.clients import AwsClients
from lambdatop.runtime.errors import FleetStopped, LambdaServiceError, Throttled
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult, InvocationStatus, Trigger
from lambdatop.runtime.triggers.filters import with_json_body
from lambdatop.runtime.triggers.mapping_state import MappingStats
from lambdatop.runtime.triggers.sources import StreamMapping

EMPTY_POLL_S = 0.25  # Lambda polls each shard about four times a second
BACKOFF_MAX_S = 30.0


class StreamPoller:
    def __init__(self, fleet: Fleet, mapping: StreamMapping, clients: AwsClients, executor: Executor) -> None:
        self.fleet = fleet
        self.mapping = mapping
        self.client = clients.client("dynamodbstreams" if mapping.kind == "dynamodb" else "kinesis")
        self.clients = clients
        self.executor = executor
        self.stats = MappingStats()
        self.enabled = asyncio.Event()
        if mapping.enabled:
            self.enabled.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._shards: set[str] = set()
        self._discover: asyncio.Task[None] | None = None

    @property
    def source(self) -> StreamMapping:
        return self.mapping

    async def start(self) -> None:
        """Open the shards present now before returning, so StartingPosition LATEST means "from the start of the run"."""
        try:
            await self._open_new_shards()
        except Exception as exc:  # noqa: BLE001 - the stream may not exist yet; discovery keeps trying
            self.stats.error(f"{type(exc).__name__}: {exc}")
        self._discover = asyncio.create_task(self._discover_shards(), name=f"lambdatop-stream-{self.mapping.function}")

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._discover] if self._discover else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []

    def update(self, mapping: StreamMapping) -> None:
        self.mapping = mapping
        (self.enabled.set if mapping.enabled else self.enabled.clear)()

    async def _call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, lambda: method(**kwargs))

    async def _discover_shards(self) -> None:
        """New shards appear (a Kinesis reshard, a DynamoDB stream rolling): each gets its own reader."""
        while True:
            await asyncio.sleep(5.0)
            try:
                await self._open_new_shards()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the stream may not exist yet, or the sidecar restarts
                self.stats.error(f"{type(exc).__name__}: {exc}")

    async def _open_new_shards(self) -> None:
        for shard in await self._list_shards():
            if shard not in self._shards:
                iterator = await self._iterator(shard)
                self._shards.add(shard)
                self._tasks.append(asyncio.create_task(self._read_shard(shard, iterator)))

    async def _list_shards(self) -> list[str]:
        if self.mapping.kind == "dynamodb":
            described = await self._call(self.client.describe_stream, StreamArn=self.mapping.stream_arn)
            return [s["ShardId"] for s in described["StreamDescription"]["Shards"]]
        described = await self._call(self.client.describe_stream, StreamARN=self.mapping.stream_arn)
        return [s["ShardId"] for s in described["StreamDescription"]["Shards"]]

    async def _iterator(self, shard: str) -> str:
        position = self.mapping.starting_position
        if self.mapping.kind == "dynamodb":
            got = await self._call(self.client.get_shard_iterator, StreamArn=self.mapping.stream_arn, ShardId=shard,
                                   ShardIteratorType=position)
        else:
            at = {"Timestamp": datetime.fromtimestamp(self.mapping.starting_timestamp or 0, UTC)} \
                if position == "AT_TIMESTAMP" else {}
            got = await self._call(self.client.get_shard_iterator, StreamARN=self.mapping.stream_arn, ShardId=shard,
                                   ShardIteratorType=position, **at)
        return got["ShardIterator"]

    async def _read_shard(self, shard: str, iterator: str | None) -> None:
        pending: list[dict[str, Any]] = []  # read but not yet delivered (a batch smaller than what came back)
        while True:
            await self.enabled.wait()
            try:
                if iterator is None:
                    iterator = await self._iterator(shard)
                if not pending:
                    extra = {"StreamARN": self.mapping.stream_arn} if self.mapping.kind == "kinesis" else {}  # moto needs it
                    got = await self._call(self.client.get_records, ShardIterator=iterator,
                                           Limit=min(10_000, self.mapping.batch_size * self.mapping.parallelization), **extra)
                    iterator = got.get("NextShardIterator") or iterator
                    self.stats.last_poll_at = time.time()
                    pending = [self._record(r, shard) for r in got.get("Records") or ()]
                    if not pending:
                        self.stats.iterator_age_ms = 0.0
                        await asyncio.sleep(EMPTY_POLL_S)
                        continue
                if self.mapping.parallelization > 1:
                    batch, pending = pending, []
                    await self._deliver_in_lanes(batch, shard)
                else:
                    batch, pending = pending[: self.mapping.batch_size], pending[self.mapping.batch_size:]
                    await self._deliver(batch, shard)
            except asyncio.CancelledError:
                raise
            except FleetStopped:
                return
            except Exception as exc:  # noqa: BLE001 - keep reading; a new iterator after an error
                self.stats.error(f"{type(exc).__name__}: {exc}")
                iterator = None
                await asyncio.sleep(1.0)

    async def _deliver_in_lanes(self, records: list[dict[str, Any]], shard: str) -> None:
        """ParallelizationFactor: one lane per partition-key hash bucket, the lanes concurrent, each in order."""
        lanes: dict[int, list[dict[str, Any]]] = {}
        for record in records:
            lanes.setdefault(lane_of(record, self.mapping.parallelization), []).append(record)
        await asyncio.gather(*(self._deliver_lane(lane, shard) for lane in lanes.values()))

    async def _deliver_lane(self, records: list[dict[str, Any]], shard: str) -> None:
        size = self.mapping.batch_size
        for start in range(0, len(records), size):
            await self._deliver(records[start:start + size], shard)

    async def _deliver(self, records: list[dict[str, Any]], shard: str) -> None:
        """Deliver one batch until it succeeds or the retry policy gives up on it (bisecting if asked)."""
        key = "dynamodb" if self.mapping.kind == "dynamodb" else "kinesis"
        records = [r for r in records if self.mapping.filter.matches(_filter_view(r, key))]
        if not records:
            return
        self._age(records)
        queue = [records]
        attempts = 0
        backoff = 0.5
        while queue:
            batch = queue[0]
            outcome = await self._invoke(batch)
            if outcome == "throttled":
                await asyncio.sleep(backoff)
                backoff = min(BACKOFF_MAX_S, backoff * 2)
                continue
            if outcome == "ok":
                queue.pop(0)
                attempts = 0
                continue
            if isinstance(outcome, int):  # ReportBatchItemFailures: retry from the first failed record
                queue[0] = batch[outcome:]
            attempts += 1
            if self._gives_up(batch, attempts):
                await self._on_failure(batch, shard, attempts)
                queue.pop(0)
                attempts = 0
            elif self.mapping.bisect_on_error and len(batch) > 1 and not isinstance(outcome, int):
                half = len(batch) // 2
                queue[0:1] = [batch[:half], batch[half:]]
            await asyncio.sleep(min(backoff, 1.0))

    async def _invoke(self, batch: list[dict[str, Any]]) -> str | int:
        self.stats.in_flight += 1
        try:
            result = await self.fleet.invoke(self.mapping.function, {"Records": batch}, trigger=Trigger.STREAM,
                                             source_arn=self.mapping.stream_arn)
        except Throttled:
            self.stats.throttles += 1
            return "throttled"
        except LambdaServiceError as exc:
            self.stats.error(f"{exc.code}: {exc.message}")
            return "failed"
        finally:
            self.stats.in_flight -= 1
        self.stats.batches += 1
        self.stats.records += len(batch)
        failed = self._first_failure(result, batch)
        if failed is None:
            self.stats.last_result = "OK"
            return "ok"
        self.stats.failed_batches += 1
        self.stats.last_result = "PROBLEM: Function call failed"
        self.stats.error(f"{result.record.error_type or result.record.status}: batch of {len(batch)} will be retried")
        return failed

    def _first_failure(self, result: InvocationResult, batch: list[dict[str, Any]]) -> int | str | None:
        """None on success; the index to resume from with ReportBatchItemFailures; "failed" for the whole batch."""
        if result.record.status is not InvocationStatus.SUCCESS:
            return "failed"
        if not self.mapping.report_failures:
            return None
        try:
            response = json.loads(result.response) if result.response.strip() else None
        except ValueError:
            return "failed"
        failures = response.get("batchItemFailures") if isinstance(response, dict) else None
        if not failures:
            return None
        sequences = [_sequence(r) for r in batch]
        indexes = [sequences.index(str(f["itemIdentifier"])) for f in failures
                   if isinstance(f, dict) and f.get("itemIdentifier") in sequences]
        return min(indexes) if len(indexes) == len(failures) else "failed"

    def _gives_up(self, batch: list[dict[str, Any]], attempts: int) -> bool:
        mapping = self.mapping
        if mapping.max_retries >= 0 and attempts > mapping.max_retries:
            return True
        if mapping.max_record_age_s >= 0 and time.time() - _arrival(batch[0]) > mapping.max_record_age_s:
            return True
        return False

    async def _on_failure(self, batch: list[dict[str, Any]], shard: str, attempts: int) -> None:
        """Lambda's on-failure record for a stream batch, sent to the destination queue or topic."""
        destination = self.mapping.on_failure
        if not destination:
            return
        info_key = "DDBStreamBatchInfo" if self.mapping.kind == "dynamodb" else "KinesisBatchInfo"
        message = {
            "requestContext": {"requestId": "", "functionArn": self.fleet.function_arn(self.mapping.function),
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempts},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0", "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            info_key: {"shardId": shard, "startSequenceNumber": _sequence(batch[0]), "endSequenceNumber": _sequence(batch[-1]),
                       "approximateArrivalOfFirstRecord": _iso(_arrival(batch[0])),
                       "approximateArrivalOfLastRecord": _iso(_arrival(batch[-1])), "batchSize": len(batch),
                       "streamArn": self.mapping.stream_arn},
        }
        body = json.dumps(message)
        if ":sqs:" in destination:
            from lambdatop.runtime.triggers.sqs_poller import queue_url_of

            sqs = self.clients.client("sqs")
            await self._call(sqs.send_message, QueueUrl=queue_url_of(destination, self.clients.endpoint_url), MessageBody=body)
        elif ":sns:" in destination:
            await self._call(self.clients.client("sns").publish, TopicArn=destination, Message=body)

    def _age(self, records: list[dict[str, Any]]) -> None:
        self.stats.iterator_age_ms = max(0.0, (time.time() - _arrival(records[-1])) * 1000)

    def _record(self, raw: dict[str, Any], shard: str) -> dict[str, Any]:
        region = self.mapping.stream_arn.split(":")[3]
        if self.mapping.kind == "dynamodb":
            change = dict(raw["dynamodb"])
            created = change.get("ApproximateCreationDateTime")
            if isinstance(created, datetime):
                change["ApproximateCreationDateTime"] = int(created.timestamp())
            return {"eventID": raw.get("eventID"), "eventName": raw.get("eventName"), "eventVersion": raw.get("eventVersion", "1.1"),
                    "eventSource": "aws:dynamodb", "awsRegion": raw.get("awsRegion", region), "dynamodb": change,
                    "eventSourceARN": self.mapping.stream_arn}
        arrived = raw.get("ApproximateArrivalTimestamp")
        return {
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": raw["PartitionKey"], "sequenceNumber": raw["SequenceNumber"],
                        "data": base64.b64encode(raw["Data"]).decode(),
                        "approximateArrivalTimestamp": arrived.timestamp() if isinstance(arrived, datetime) else time.time()},
            "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{shard}:{raw['SequenceNumber']}",
            "eventName": "aws:kinesis:record", "invokeIdentityArn": f"arn:aws:iam::{self.fleet.config.account_id}:role/lambdatop",
            "awsRegion": region, "eventSourceARN": self.mapping.stream_arn,
        }


def lane_of(record: dict[str, Any], lanes: int) -> int:
    """The lane of a record under ParallelizationFactor `lanes`: its partition key's MD5 (as Kinesis hashes keys), mod lanes."""
    if "dynamodb" in record:
        key = json.dumps(record["dynamodb"].get("Keys") or {}, sort_keys=True)
    else:
        key = str(record["kinesis"]["partitionKey"])
    return int(hashlib.md5(key.encode(), usedforsecurity=False).hexdigest(), 16) % lanes


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"] if "dynamodb" in record else record["kinesis"]["sequenceNumber"])


def _arrival(record: dict[str, Any]) -> float:
    if "dynamodb" in record:
        return float(record["dynamodb"].get("ApproximateCreationDateTime") or time.time())
    return float(record["kinesis"].get("approximateArrivalTimestamp") or time.time())


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _filter_view(record: dict[str, Any], key: str) -> dict[str, Any]:
    """Kinesis filters match `data` decoded as JSON; DynamoDB filters match the record as it is."""
    if key != "kinesis":
        return record
    view = dict(record)
    try:
        view["data"] = json.loads(base64.b64decode(record["kinesis"]["data"]))
    except ValueError:
        view["data"] = record["kinesis"]["data"]
    return with_json_body(view, "data")
