"""Where the endpoint listens: the loopback check, the bound port, the host clients should use."""

from __future__ import annotations

import ipaddress
import socket

from aiohttp import web

from lambdatop.runtime.errors import EndpointUnavailable


def is_loopback(host: str) -> bool:
    """True when every address `host` stands for is a loopback one (so nothing off this machine can connect)."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(bare, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise EndpointUnavailable("the endpoint started but reports no listening socket")


def url_host(host: str) -> str:
    """A host for URLs that clients on this machine can use (a wildcard bind is reached over loopback)."""
    bare = host.strip("[]")
    if bare in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bare == "::":
        return "[::1]"
    return f"[{bare}]" if ":" in bare else bare
