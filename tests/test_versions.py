"""Published versions and aliases, through real boto3 clients against a live endpoint, with real file edits.

`AutoPublishAlias` publishes version 1 at start and a new one on each change the hot reload applies; a
published version keeps the code it was published with (its own copy), so `Fn:1` runs the old code after
an edit while `$LATEST` and the alias run the new. An alias with `AdditionalVersionWeights` splits its
invocations between two versions in proportion.
"""

from __future__ import annotations

import asyncio
import json
import math
import textwrap
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdatop.runtime.api.endpoint import LambdaEndpoint
from lambdatop.runtime.bus import FleetEvent, Subscription
from lambdatop.runtime.records import InvocationResult
from lambdatop.runtime.config import load_config
from lambdatop.runtime.errors import ConfigError, FunctionNotFound
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.reload.service import ReloadService
from lambdatop.runtime.services import attach_store_services
from tests.conftest import lambdatop_processes
from tests.reload_support import Watched, alive
from tests.support import lambdatop

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      AutoPublishAlias: live
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: plain/
      Handler: app.handler
"""

CODE = """\
def handler(event, context):
    return {{"code": "{label}", "version": context.function_version, "arn": context.invoked_function_arn}}
"""
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"


@dataclass
class Served:
    root: Path
    watched: Watched
    endpoint: LambdaEndpoint
    client: Any

    async def call(self, operation: str, **params: Any) -> Any:
        return await asyncio.to_thread(getattr(self.client, operation), **params)

    async def invoke(self, name: str, **params: Any) -> tuple[str, dict[str, Any]]:
        """(X-Amz-Executed-Version, the handler's answer)."""
        answer = await self.call("invoke", FunctionName=name, **params)
        return answer["ExecutedVersion"], json.loads(answer["Payload"].read())

    async def edit(self, function: str, folder: str, label: str) -> None:
        """Change the code on disk and wait until the reload applied it."""
        self.watched.forget()
        (self.root / folder / "app.py").write_text(CODE.format(label=label))
        await self.watched.next_event("reload", function)
        await self.watched.settle()


@pytest.fixture
async def served(tmp_path: Path, lambda_client: Any) -> AsyncIterator[Served]:
    for folder in ("fn", "plain"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "app.py").write_text(CODE.format(label="one"))
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    endpoint = LambdaEndpoint("127.0.0.1", 0)
    fleet = Fleet(tmp_path / "template.yaml")
    reload = ReloadService()
    fleet.add_service(reload)
    attach_store_services(fleet)  # the durable async queue, for Event invocations of a version
    fleet.add_service(endpoint)
    subscription = fleet.subscribe("test-versions")
    async with fleet:
        watched = Watched(fleet, reload, subscription)
        await watched.settle()
        yield Served(tmp_path, watched, endpoint, lambda_client(endpoint.url))
    assert not alive(lambdatop_processes()), "a worker or zygote outlived the fleet"


async def test_each_change_publishes_a_version_and_old_versions_keep_their_code(served: Served) -> None:
    versions = (await served.call("list_versions_by_function", FunctionName="Fn"))["Versions"]
    assert [(v["Version"], v["FunctionArn"]) for v in versions] == [("$LATEST", ARN + "Fn"), ("1", ARN + "Fn:1")]
    assert (await served.call("get_alias", FunctionName="Fn", Name="live"))["FunctionVersion"] == "1"
    assert await served.invoke("Fn", Qualifier="live") == ("1", {"code": "one", "version": "1", "arn": ARN + "Fn:live"})

    await served.edit("Fn", "fn", "two")
    versions = (await served.call("list_versions_by_function", FunctionName="Fn"))["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert versions[1]["CodeSha256"] != versions[2]["CodeSha256"] == versions[0]["CodeSha256"]
    alias = await served.call("get_alias", FunctionName="Fn", Name="live")
    assert (alias["AliasArn"], alias["FunctionVersion"]) == (ARN + "Fn:live", "2")

    # Version 1 still runs the code it was published with; $LATEST and the alias run the edit.
    assert await served.invoke("Fn:1") == ("1", {"code": "one", "version": "1", "arn": ARN + "Fn:1"})
    assert await served.invoke(ARN + "Fn:1") == ("1", {"code": "one", "version": "1", "arn": ARN + "Fn:1"})
    assert await served.invoke("Fn", Qualifier="live") == ("2", {"code": "two", "version": "2", "arn": ARN + "Fn:live"})
    assert await served.invoke(ARN + "Fn:live") == ("2", {"code": "two", "version": "2", "arn": ARN + "Fn:live"})
    assert await served.invoke("Fn") == ("$LATEST", {"code": "two", "version": "$LATEST", "arn": ARN + "Fn"})
    assert (await served.invoke("Fn:$LATEST"))[0] == "$LATEST"

    # The template's own wiring (its events, its function URL) invokes the alias, as SAM attaches it there.
    url = f"{served.endpoint.url}/fn/Fn/"
    through_url = await asyncio.to_thread(lambda: json.loads(urllib.request.urlopen(url, timeout=30).read()))
    assert through_url == {"code": "two", "version": "2", "arn": ARN + "Fn:live"}

    # An Event invocation of version 1 runs version 1 when the queue delivers it.
    results = served.watched.fleet.subscribe("test-versions-event")
    accepted = await served.call("invoke", FunctionName="Fn", Qualifier="1", InvocationType="Event", Payload=b"{}")
    request_id = accepted["ResponseMetadata"]["RequestId"]
    delivered = await _result_of(results, request_id)
    assert delivered.record.version == "1" and json.loads(delivered.response)["code"] == "one"

    # Records say which version ran; each version's environments run beside $LATEST's.
    fleet = served.watched.fleet
    recent = [r for r in fleet.snapshot().recent if r.invocation_type != "Event"]
    assert [r.version for r in recent[:7]] == ["2", "$LATEST", "$LATEST", "2", "2", "1", "1"]
    function = next(f for f in fleet.snapshot().functions if f.name == "Fn")
    assert {e.version for e in function.envs} == {"$LATEST", "1", "2"}
    assert function.versions is not None
    counts = {(v.version, v.code_version): v.invocations for v in function.versions.versions}
    # Version 1: one before the edit, three after (one an Event); version 2: two by name, one through the URL.
    assert counts == {("$LATEST", "v2"): 2, ("1", "v1"): 4, ("2", "v2"): 3}
    # Configuration reads of a version and of an alias.
    config = await served.call("get_function_configuration", FunctionName="Fn", Qualifier="1")
    assert (config["Version"], config["FunctionArn"]) == ("1", ARN + "Fn:1")
    config = await served.call("get_function_configuration", FunctionName="Fn:live")
    assert (config["Version"], config["FunctionArn"]) == ("2", ARN + "Fn:live")


async def test_alias_weights_split_invocations_between_two_versions(served: Served) -> None:
    first = await served.call("publish_version", FunctionName="Plain", Description="first")
    assert (first["Version"], first["Description"]) == ("1", "first")
    # Nothing changed since: PublishVersion answers the same version, as Lambda does.
    assert (await served.call("publish_version", FunctionName="Plain"))["Version"] == "1"
    await served.edit("Plain", "plain", "two")
    assert (await served.call("publish_version", FunctionName="Plain"))["Version"] == "2"
    # boto3's paginator follows NextMarker: two pages of two, then $LATEST, 1, 2 in order.
    pages = served.client.get_paginator("list_versions_by_function").paginate(FunctionName="Plain",
                                                                             PaginationConfig={"PageSize": 2})
    listed = await asyncio.to_thread(lambda: [[v["Version"] for v in page["Versions"]] for page in pages])
    assert listed == [["$LATEST", "1"], ["2"]]

    weight, count = 0.3, 200
    created = await served.call("create_alias", FunctionName="Plain", Name="canary", FunctionVersion="1",
                                RoutingConfig={"AdditionalVersionWeights": {"2": weight}})
    assert created["RoutingConfig"] == {"AdditionalVersionWeights": {"2": weight}}
    assert created["AliasArn"] == ARN + "Plain:canary"
    ran: dict[str, int] = {}
    for _ in range(count):
        executed, answer = await served.invoke("Plain:canary")
        assert answer["code"] == {"1": "one", "2": "two"}[executed]  # the version that ran is the code that ran
        ran[executed] = ran.get(executed, 0) + 1
    # Binomial(200, 0.3): within 5 sigma (about 32) of 60, whatever the draws.
    sigma = math.sqrt(count * weight * (1 - weight))
    assert abs(ran.get("2", 0) - count * weight) <= 5 * sigma, ran
    assert set(ran) == {"1", "2"}

    updated = await served.call("update_alias", FunctionName="Plain", Name="canary", FunctionVersion="2",
                                RoutingConfig={"AdditionalVersionWeights": {}})
    assert updated["FunctionVersion"] == "2" and "RoutingConfig" not in updated
    assert {(await served.invoke("Plain:canary"))[0] for _ in range(5)} == {"2"}
    listed = (await served.call("list_aliases", FunctionName="Plain"))["Aliases"]
    assert [(a["Name"], a["FunctionVersion"]) for a in listed] == [("canary", "2")]
    assert (await served.call("list_aliases", FunctionName="Plain", FunctionVersion="1"))["Aliases"] == []
    await served.call("delete_alias", FunctionName="Plain", Name="canary")
    assert (await served.call("list_aliases", FunctionName="Plain"))["Aliases"] == []

    # DeleteFunction with a qualifier deletes that version; one an alias names, or $LATEST, cannot go.
    await served.call("delete_function", FunctionName="Plain", Qualifier="1")
    versions = (await served.call("list_versions_by_function", FunctionName="Plain"))["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "2"]
    with pytest.raises(served.client.exceptions.ResourceNotFoundException):
        await served.invoke("Plain:1")
    await served.call("create_alias", FunctionName="Plain", Name="prod", FunctionVersion="2")
    with pytest.raises(served.client.exceptions.ResourceConflictException, match=r"aliases reference it: \[prod\]"):
        await served.call("delete_function", FunctionName="Plain", Qualifier="2")
    with pytest.raises(served.client.exceptions.InvalidParameterValueException, match="cannot be deleted"):
        await served.call("delete_function", FunctionName="Plain:$LATEST")


async def test_unknown_qualifiers_and_bad_aliases_answer_lambdas_errors(served: Served) -> None:
    client = served.client
    for name, params in (("Fn", {"Qualifier": "nope"}), ("Fn:7", {}), (ARN + "Fn:nope", {})):
        with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
            await served.invoke(name, **params)
        response = caught.value.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert response["Error"]["Message"].startswith(f"Function not found: {ARN}Fn:")
    with pytest.raises(client.exceptions.ResourceNotFoundException, match=f"Alias not found: {ARN}Fn:nope"):
        await served.call("get_alias", FunctionName="Fn", Name="nope")
    with pytest.raises(client.exceptions.ResourceConflictException, match=f"Alias already exists: {ARN}Fn:live"):
        await served.call("create_alias", FunctionName="Fn", Name="live", FunctionVersion="1")
    with pytest.raises(client.exceptions.ResourceNotFoundException, match=f"Function not found: {ARN}Fn:9"):
        await served.call("create_alias", FunctionName="Fn", Name="other", FunctionVersion="9")
    for routing in ({"AdditionalVersionWeights": {"1": 0.5}}, {"AdditionalVersionWeights": {"1": 1.5}}):
        with pytest.raises(ClientError) as error:
            await served.call("update_alias", FunctionName="Fn", Name="live", FunctionVersion="$LATEST", RoutingConfig=routing)
        assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(client.exceptions.PreconditionFailedException):
        await served.call("update_alias", FunctionName="Fn", Name="live", RevisionId="not-the-current-one")


async def _result_of(results: Subscription, request_id: str, timeout: float = 30.0) -> InvocationResult:
    """The published result of the invocation `request_id` (waits for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in await results.wait(0.5):
            if isinstance(item, InvocationResult) and item.record.request_id == request_id:
                return item
    raise AssertionError(f"no result for {request_id} within {timeout} s")


def test_alias_is_read_from_sam_and_lambdatop_yaml(tmp_path: Path) -> None:
    for folder in ("fn", "plain"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "app.py").write_text(CODE.format(label="one"))
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    sam = load_config(tmp_path / "template.yaml")
    assert (sam.functions["Fn"].auto_publish_alias, sam.functions["Plain"].auto_publish_alias) == ("live", None)
    assert not any("AutoPublishAlias" in warning for warning in sam.warnings)  # implemented: no notice
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace("    Runtime: python3.11\n", "    Runtime: python3.11\n"
                                                             "    AutoPublishAlias: prod\n"))
    sam = load_config(tmp_path / "template.yaml")  # Globals.Function's, under the function's own
    assert (sam.functions["Fn"].auto_publish_alias, sam.functions["Plain"].auto_publish_alias) == ("live", "prod")

    (tmp_path / "lambdatop.yaml").write_text(textwrap.dedent("""\
        defaults: {alias: prod}
        functions:
          fn: {handler: app.handler, code: fn}
          other: {handler: app.handler, code: fn, alias: canary}
    """))
    own = load_config(tmp_path / "lambdatop.yaml")
    assert (own.functions["fn"].auto_publish_alias, own.functions["other"].auto_publish_alias) == ("prod", "canary")
    (tmp_path / "lambdatop.yaml").write_text("functions:\n  fn: {handler: app.handler, code: fn, alias: '12'}\n")
    with pytest.raises(ConfigError, match="'12' is not an alias name") as caught:
        load_config(tmp_path / "lambdatop.yaml")
    assert (caught.value.line, caught.value.key) == (2, "alias")


def test_the_cli_invokes_an_alias_and_a_version(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(CODE.format(label="one"))
    (tmp_path / "lambdatop.yaml").write_text("functions:\n  fn: {handler: app.handler, code: fn, alias: live}\n")
    done = lambdatop("invoke", "fn:live", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"code": "one", "version": "1", "arn": ARN + "fn:live"}
    missing = lambdatop("invoke", "fn:2", cwd=tmp_path)
    assert missing.returncode != 0 and f"Function not found: {ARN}fn:2" in missing.stderr


async def test_a_version_runs_with_its_layers_beside_latest(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(
        "import os, shared\n\ndef handler(event, context):\n"
        "    return {'layer': shared.VALUE, 'opt': os.environ['LAMBDATOP_OPT'], 'version': context.function_version}\n")
    (tmp_path / "layer" / "python").mkdir(parents=True)
    (tmp_path / "layer" / "python" / "shared.py").write_text("VALUE = 'from the layer'\n")
    (tmp_path / "lambdatop.yaml").write_text("functions:\n  fn: {handler: app.handler, code: fn, alias: live, layers: [layer]}\n")
    async with Fleet(tmp_path / "lambdatop.yaml") as fleet:
        published = json.loads((await fleet.invoke("fn:live")).response)
        latest = json.loads((await fleet.invoke("fn")).response)
        again = json.loads((await fleet.invoke("fn:1")).response)  # after $LATEST's environment built its /opt
    assert (published["layer"], published["version"], latest["layer"], latest["version"]) == (
        "from the layer", "1", "from the layer", "$LATEST")
    assert published["opt"] != latest["opt"] and again["opt"] == published["opt"]  # one /opt stand-in each


async def test_code_past_lambdas_unzipped_limit_is_not_published(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(CODE.format(label="one"))
    with open(tmp_path / "fn" / "data.bin", "wb") as big:  # sparse: 251 MB on paper, nothing on disk
        big.truncate(251 * 1024 * 1024)
    (tmp_path / "lambdatop.yaml").write_text("functions:\n  fn: {handler: app.handler, code: fn, alias: live}\n")
    fleet = Fleet(tmp_path / "lambdatop.yaml")
    events = fleet.subscribe("test-too-large")
    async with fleet:
        warnings = [e.message for e in events.drain() if isinstance(e, FleetEvent) and e.kind == "warning"]
        assert any("fn: not published: Unzipped size must be smaller than 262144000 bytes" in w for w in warnings), warnings
        with pytest.raises(FunctionNotFound):
            await fleet.invoke("fn:live")
        assert json.loads((await fleet.invoke("fn")).response)["version"] == "$LATEST"
        assert not (fleet.work_dir / "versions" / "fn" / "1").exists()  # the partial copy is gone
