"""Allocates memory in steps until it passes its memory size."""

import time


def handler(event, context):
    target_mb = int(event.get("megabytes", 400))
    hoard = []
    for _ in range(target_mb // 16):
        hoard.append(bytearray(16 * 1024 * 1024))  # bytearray touches its pages: real RSS
        time.sleep(0.01)
    return {"allocated_mb": len(hoard) * 16}
