"""What makes functions run without anyone calling them: event sources, push sources and schedules.

Each trigger is a fleet service that turns something outside the function
into invocations through the same paths a caller uses: event source mappings
(SQS, streams) poll and invoke synchronously through the concurrency gate;
push sources (S3, SNS, EventBridge rules with a pattern) and schedules
(`Schedule`, `ScheduleV2`, `AWS::Events::Rule` with a ScheduleExpression)
invoke asynchronously through the durable async queue, as Lambda does.

- `cron.py`: schedule expressions in EventBridge's syntax (rate, cron, at) and their next fire times.
- `schedule_config.py`: the schedules a config defines, validated with file, line, function and key.
- `firing.py`: when a schedule fires next, and the payload each firing sends (Scheduled Event, Input).
- `schedules.py`: the schedules service (timers on the supervisor's loop) and its snapshot.

Modules here import the runtime's shared vocabulary (fleet, records, errors,
bus, config) and never the TUI.
"""
