"""Lambda's HTTP API on loopback: the Invoke API, the read-only control plane, function URLs, and the
Runtime API that Node.js, custom runtimes and awslambdaric drive their environments through (runtime_api.py).

May import: config, execution, async_invoke (enqueue), observability, and the shared vocabulary.
"""
