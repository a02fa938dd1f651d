"""What makes functions run without anyone calling them: event sources, push sources and schedules.

Each trigger is a fleet service that turns something outside the function
into invocations through the same paths a caller uses:

- Event source mappings (`sources`, `sqs_poller`, `stream_poller`, `mappings_api`):
  lambdatop polls SQS queues and DynamoDB/Kinesis streams in the AWS services
  sidecar, as Lambda's pollers do, and invokes synchronously through the same
  gate (throttles back off).
- Push sources (`push`): S3 notifications, SNS subscriptions and EventBridge
  rules are routed into internal SQS queues in the sidecar and delivered as
  asynchronous invocations through the durable async queue.
- Schedules (`schedules`): `Schedule`, `ScheduleV2` and `AWS::Events::Rule`
  with a ScheduleExpression, on timers on the supervisor's loop, fired through
  the durable async queue. Their expressions and next fire times are the
  config's (`config/cron.py`, `config/schedules.py`, `config/schedule_firing.py`).
- `filters`: FilterCriteria and event patterns (EventBridge's matching rules).

It may import: lambdatop.runtime.fleet, .config, .records, .errors, .bus,
.identifiers, lambdatop.runtime.aws (the sidecar's clients and resource
names), and boto3/moto; never the TUI.
"""
