"""Triggers: event sources, push sources and schedules that invoke the template's functions.

- Event source mappings (`sources`, `sqs_poller`, `stream_poller`, `mappings_api`):
  lambdatop polls SQS queues and DynamoDB/Kinesis streams in the AWS services
  sidecar, as Lambda's pollers do, and invokes synchronously through the same
  gate (throttles back off).
- Push sources (`push`): S3 notifications, SNS subscriptions and EventBridge
  rules are routed into internal SQS queues in the sidecar and delivered as
  asynchronous invocations through the durable async queue.
- Schedules (`schedules`, `cron`): rate and cron expressions firing the
  Scheduled Event shape.
- `filters`: FilterCriteria and event patterns (EventBridge's matching rules).

It may import: lambdatop.runtime.fleet, .config, .records, .errors, .bus,
.identifiers, lambdatop.runtime.aws (the sidecar's clients and resource
names), and boto3/moto.
"""
