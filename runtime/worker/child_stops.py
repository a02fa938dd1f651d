"""Ask the kernel to signal the zygote when a worker exits, not each time one is stopped or continued.

The supervisor freezes an idle environment with SIGSTOP and thaws it with
SIGCONT, so a warm invocation stops and continues its worker once each. Every
stop and continue sends the worker's parent, the zygote, a SIGCHLD that wakes
its loop for nothing: it only waits for exits. That was about 70 µs of the
zygote's CPU per invocation on the HTTP path. `SA_NOCLDSTOP` keeps SIGCHLD for
exits alone. Python's `signal` module cannot set an action's flags, so this adds
the flag to the action Python installed, through libc's `sigaction`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal

SA_NOCLDSTOP = 1  # <signal.h> on Linux, every architecture


class _SigAction(ctypes.Structure):
    # glibc's and musl's `struct sigaction` on Linux: the handler, a 1024-bit mask, the flags, the restorer.
    _fields_ = [
        ("handler", ctypes.c_void_p),
        ("mask", ctypes.c_ulong * (128 // ctypes.sizeof(ctypes.c_ulong))),
        ("flags", ctypes.c_int),
        ("restorer", ctypes.c_void_p),
    ]


def only_exits_signal_the_parent() -> bool:
    """Add SA_NOCLDSTOP to the current SIGCHLD action (set it with `signal.signal` first); False if it could not."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return False
    action = _SigAction()
    if libc.sigaction(signal.SIGCHLD, None, ctypes.byref(action)) != 0:
        return False
    action.flags |= SA_NOCLDSTOP
    return libc.sigaction(signal.SIGCHLD, ctypes.byref(action), None) == 0
