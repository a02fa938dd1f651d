"""How many file descriptors lambdatop may hold: the soft limit raised to the hard one, once, at start.

Apart from `httpserver` (which sizes its connection caps from it) so that a
fleet with no HTTP server, `lambdatop invoke`'s, raises it without loading aiohttp.
"""

from __future__ import annotations

import resource


def raise_fd_limit() -> int:
    """The soft fd limit raised to the hard one, and what it is now (65,536 for unlimited).

    Each environment holds a socket and a log fd, each client a socket: 1,000 of either need more
    than the usual default of 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return 65536 if soft == resource.RLIM_INFINITY else int(soft)
