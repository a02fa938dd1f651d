"""Lambda's HTTP API on loopback: the Invoke API, the control plane (reads, and the writes that make sense locally) and function URLs.

May import: config, execution, async_invoke (enqueue), observability, and the shared vocabulary.
"""
