"""Lambda's HTTP API on loopback: the Invoke API, the read-only control plane and function URLs.

May import: config, execution, async_invoke (enqueue), observability, and the shared vocabulary.
"""
