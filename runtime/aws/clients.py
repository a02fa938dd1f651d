"""boto3 clients for lambdatop's own calls to the AWS services (creating the stack, polling queues and streams).

Always the local endpoint and dummy keys: lambdatop itself never calls the
host's AWS account. Clients are built once per service under a lock (building
one is not thread-safe in boto3; using one from many threads is).
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

DUMMY_KEY_ID = "AKIALAMBDATOPLOCAL00"  # moto maps unknown keys to its default account, 123456789012
DUMMY_SECRET = "lambdatop-local-secret-access-key"
# Long polls hold a connection each; pollers of many mappings share one client per service.
_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=64,
                 connect_timeout=5, read_timeout=30)


class AwsClients:
    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._session = boto3.session.Session(aws_access_key_id=DUMMY_KEY_ID, aws_secret_access_key=DUMMY_SECRET,
                                              region_name=region)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url, config=_CONFIG)
            return self._clients[service]
