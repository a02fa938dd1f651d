"""Chaos: slow, stuck, many and malformed HTTP clients (issue 18 items 5 and 13).

Loopback only; the deadlines are shortened for the test so each case ends in
about a second, and every socket read has a timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest

from lambdatop.runtime import httpserver

INVOKE = "/2015-03-31/functions/hello/invocations"


async def raw(port: int, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send `data` on a fresh connection and read until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.fixture
def short_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpserver, "HEADER_TIMEOUT_S", 0.5)
    monkeypatch.setattr(httpserver, "BODY_TIMEOUT_S", 0.5)


@pytest.mark.usefixtures("short_deadlines")
async def test_slow_headers_and_a_body_that_never_ends_are_cut_off(endpoint, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="lambdatop.http")
    slow_headers = await raw(endpoint.port, f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\n".encode())
    stuck_body = await raw(endpoint.port, f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{".encode())
    assert slow_headers == b""
    assert stuck_body == b"" or parse(stuck_body)[0] >= 400  # closed, or answered and closed
    storms = [r for r in caplog.records if "slow clients timed out" in r.getMessage()]
    assert len(storms) == 1, "one log line per storm"
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{endpoint.url}{INVOKE}", data=b"{}") as response:
            assert response.status == 200


async def test_connections_past_the_cap_are_closed_and_the_open_ones_still_served(endpoint, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="lambdatop.http")
    server = endpoint._runner.server
    server.max_connections = 4
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4)) as session:
        async with session.post(f"{endpoint.url}{INVOKE}", data=b"{}") as response:
            assert response.status == 200  # a keep-alive connection, held by the session
        idle = [await asyncio.open_connection("127.0.0.1", endpoint.port) for _ in range(3)]
        refused = [await raw(endpoint.port, b"", timeout=5) for _ in range(20)]
        assert refused == [b""] * 20
        async with session.post(f"{endpoint.url}{INVOKE}", data=b"{}") as response:
            assert response.status == 200  # the kept-alive connection is one of the four
        for _, writer in idle:
            writer.close()
    assert len([r for r in caplog.records if "connection cap reached" in r.getMessage()]) == 1


@pytest.mark.parametrize("request_bytes", [
    f"GET /{'a' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nX-Big: {'b' * 9000}\r\n\r\n".encode(),
    f"FR@B {INVOKE} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".encode(),
], ids=["url over 8 KB", "header over 8 KB", "bad method", "negative content-length"])
async def test_the_servers_own_400s_are_in_lambdas_error_shape(endpoint, request_bytes: bytes) -> None:
    status, headers, body = parse(await raw(endpoint.port, request_bytes))
    assert status == 400
    assert headers["x-amzn-errortype"] == "InvalidRequestContentException"
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["Type"] == "User" and json.loads(body)["message"]


async def test_json_nested_100k_deep_is_a_400_not_a_500(endpoint) -> None:
    payload = b"[" * 100_000 + b"]" * 100_000
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{endpoint.url}{INVOKE}", data=payload) as response:
            assert response.status == 400
            assert response.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
            assert "nested too deeply" in (await response.json())["message"]


def test_the_api_port_answers_its_own_400s_as_api_gateway_does() -> None:
    from lambdatop.runtime.apigateway import server

    response = server._server_error(400, "Bad status line")
    assert response.status == 400 and response.headers["x-amzn-ErrorType"] == "BadRequestException"
    assert json.loads(response.body) == {"message": "Bad status line"}
