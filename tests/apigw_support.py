"""Shared by the API Gateway tests: a fleet with the API port on a free loopback port, and an HTTP client."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from lambdatop.runtime.apigateway.server import ApiGatewayService
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.service import ObservabilityService

APPS = Path(__file__).resolve().parent / "apigw_apps"


def write_sam_project(root: Path, template: str, sources: dict[str, str]) -> Path:
    """template.yaml plus one folder per function (`{"Echo": "def handler..."}` → Echo/app.py)."""
    for name, source in sources.items():
        path = root / (name if "/" in name else f"{name}/app.py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    config = root / "template.yaml"
    config.write_text(textwrap.dedent(template))
    return config


@asynccontextmanager
async def api_running(config: Path, *, observability: bool = False, **options: Any) -> AsyncIterator[ApiGatewayService]:
    """A started fleet on `config` with the API on 127.0.0.1:0 (and traces with `observability`)."""
    fleet = Fleet(config)
    if observability:
        fleet.add_service(ObservabilityService())
    service = ApiGatewayService("127.0.0.1", 0, **options)
    fleet.add_service(service)
    async with fleet:
        yield service


async def call(method: str, url: str, **kwargs: Any) -> tuple[int, Any, bytes]:
    """(status, headers, body) of one request over loopback."""
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, allow_redirects=False, **kwargs) as response:
            return response.status, response.headers, await response.read()
