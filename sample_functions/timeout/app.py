"""Sleeps past its 1-second timeout."""

import time


def handler(event, context):
    print("starting a job that is too long")
    time.sleep(float(event.get("sleep_s", 5)))
    return {"finished": True}
