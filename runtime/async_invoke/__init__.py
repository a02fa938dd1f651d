"""Asynchronous invocation (InvocationType Event): the durable queue, its dispatcher, retries and destinations.

May import: config, execution (payload checks), store, and the shared vocabulary.
"""
