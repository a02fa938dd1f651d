"""A template change adds and removes resources live, and functions see the new names without a restart."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from lambdatop.runtime.reload.service import ReloadService

from tests.aws_support import aws_fleet, client, copy_app


async def test_a_saved_template_adds_and_removes_resources_live(tmp_path: Path) -> None:
    config = copy_app(tmp_path)
    async with aws_fleet(config, watch=True) as fleet:
        reload = next(s for s in fleet.services if isinstance(s, ReloadService))
        old_topic = fleet.functions["QueueWorker"].environment["TOPIC"]
        text = config.read_text()
        text = text.replace("  Alerts:\n    Type: AWS::SNS::Topic\n", "  Extra:\n    Type: AWS::SQS::Queue\n")
        text = re.sub(r"  AlertListener:\n(    .*\n|      .*\n)+?(?=  OrderPlaced:)", "", text)
        text = text.replace("          TOPIC: !Ref Alerts\n", "          EXTRA: !Ref Extra\n")
        config.write_text(text)
        for _ in range(200):
            await asyncio.sleep(0.1)
            if "EXTRA" in fleet.functions["QueueWorker"].environment:
                break
        await reload.settled(timeout=20)
        extra = fleet.functions["QueueWorker"].environment["EXTRA"]
        assert extra in client(fleet, "sqs").list_queues()["QueueUrls"]
        assert old_topic not in [t["TopicArn"] for t in client(fleet, "sns").list_topics()["Topics"]]
        assert "AlertListener" not in fleet.functions
