"""Does slow work at import time: the Init phase of a cold start shows it."""

import time

time.sleep(0.8)  # stands in for loading a model or opening connections
TABLE = {i: i * i for i in range(100_000)}


def handler(event, context):
    n = int(event.get("n", 12))
    return {"square": TABLE.get(n)}
