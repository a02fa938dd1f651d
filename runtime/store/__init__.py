"""The durable store: every invocation, the async queue, dead letters, traces and runs, in one SQLite file.

The writer (a thread fed by a queue; the event loop never waits on the disk),
the schema and its migrations, the reader the CLI and screens use, and record
and replay.

May import: config and the shared vocabulary; replay also drives a Fleet.
"""
