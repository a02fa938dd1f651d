"""What the AWS and trigger tests share: the test app copied to tmp_path, a fleet with the AWS services, waiting for results."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import boto3
from lambdatop.runtime.aws.service import AwsService, aws_service
from lambdatop.runtime.config.api_settings import ApiSettings
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult
from lambdatop.runtime.services import ServiceOptions, attach_standard_services

AWS_APP = Path(__file__).resolve().parent / "fixtures" / "aws_app"


def copy_app(tmp_path: Path, source: Path = AWS_APP) -> Path:
    target = tmp_path / source.name
    shutil.copytree(source, target)
    return target / "template.yaml"


@asynccontextmanager
async def aws_fleet(config: Path, *, watch: bool = False, api: bool = False) -> AsyncIterator[Fleet]:
    """A started fleet with the standard services, the sidecar on a free port, no HTTP endpoint (the API port with `api`)."""
    fleet = Fleet(config)
    attach_standard_services(fleet, ServiceOptions(port=None, watch=watch, store=True, aws_port=0,
                                                   api=ApiSettings(port=0) if api else None))
    async with fleet:
        yield fleet


def sidecar_of(fleet: Fleet) -> AwsService:
    service = aws_service(fleet)
    assert service is not None and service.sidecar is not None
    return service


def client(fleet: Fleet, name: str) -> Any:
    """Plain boto3 pointed at the services endpoint, as a developer's script would be."""
    return boto3.client(name, endpoint_url=sidecar_of(fleet).endpoint_url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


class Results:
    """Every finished invocation, collected from the bus while the test runs."""

    def __init__(self, fleet: Fleet) -> None:
        self.subscription = fleet.subscribe(f"test-results-{id(self)}")
        self.seen: list[InvocationResult] = []

    def _drain(self) -> None:
        self.seen += [item for item in self.subscription.drain() if isinstance(item, InvocationResult)]

    def of(self, function: str) -> list[InvocationResult]:
        self._drain()
        return [r for r in self.seen if r.record.function == function]

    async def wait(self, function: str, count: int = 1, timeout: float = 20.0,
                   where: Callable[[InvocationResult], bool] = lambda r: True) -> list[InvocationResult]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [r for r in self.of(function) if where(r)]
            if len(found) >= count:
                return found
            if loop.time() > deadline:
                raise AssertionError(f"{function}: {len(found)} of {count} invocations after {timeout} s "
                                     f"(saw {[r.record.function for r in self.seen]})")
            await asyncio.sleep(0.05)


def event_of(result: InvocationResult) -> Any:
    return json.loads(result.request)
