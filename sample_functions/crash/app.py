"""Kills its own process in the ways real code does: sys.exit, os._exit, a segfault."""

import ctypes
import os
import signal
import sys


def handler(event, context):
    how = event.get("how", "exit")
    print(f"crashing by {how}")
    if how == "exit":
        sys.exit(3)
    if how == "os_exit":
        os._exit(4)
    if how == "segfault":
        ctypes.string_at(0)
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    return {"survived": True}
