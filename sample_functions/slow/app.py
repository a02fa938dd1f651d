"""Sleeps as long as the event asks (`sleep_ms`), to make concurrency visible."""

import time


def handler(event, context):
    sleep_ms = int(event.get("sleep_ms", 500))
    time.sleep(sleep_ms / 1000)
    return {"slept_ms": sleep_ms, "remaining_ms": context.get_remaining_time_in_millis()}
