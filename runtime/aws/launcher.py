"""The sidecar's own process: moto's server, armed to die with lambdatop.

Run as `python -m lambdatop.runtime.aws.launcher HOST PORT PARENT_PID`. It asks
the kernel for SIGKILL when its parent dies (PR_SET_PDEATHSIG, so even a
`kill -9` of lambdatop leaves no orphan), binds (port 0 = a free one), prints
`{"port": N}` on stdout once it accepts connections, then serves until killed.
It imports only moto and werkzeug: nothing of lambdatop's supervisor.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when its parent dies; exit now if it already has."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before the request was armed
        os._exit(0)


def main() -> None:
    host, port, parent_pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    die_with_parent(parent_pid)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    bound = server.server_address[1]
    os.environ["MOTO_PORT"] = str(bound)  # moto writes the port into the queue URLs it hands out
    print(json.dumps({"port": bound}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
