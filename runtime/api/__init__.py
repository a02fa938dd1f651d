"""Lambda's HTTP API on loopback: the Invoke API, the control plane (reads, and the writes that make sense
locally), function URLs, and the Runtime API that Node.js, custom runtimes and awslambdaric drive their
environments through (runtime_api.py).

May import: config, execution, async_invoke (enqueue), observability, and the shared vocabulary.
"""
