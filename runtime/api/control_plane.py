"""Lambda's control plane for functions and the account, answered from the fleet's live configuration.

`GetFunction`, `GetFunctionConfiguration`, `ListFunctions`,
`GetFunctionConcurrency`, `GetAccountSettings` and `GetFunctionUrlConfig` /
`ListFunctionUrlConfigs` bodies, shaped as botocore's
lambda 2015-03-31 model reads them, with the fields boto3 waiters, the AWS
CLI and SAM-style tooling look at (LAMBDA.md §5, §14). Published versions and
aliases are versions_api.py's. Values AWS derives from a deployed zip (CodeSha256, CodeSize) are
derived here from the code folder and lambdatop's code version instead. The write calls
(updates.py) change the live configuration these answers read.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.api.function_settings import tags as template_tags
from lambdatop.runtime.api.layers_api import layer_arn
from lambdatop.runtime.api.paging import paged
from lambdatop.runtime.api.updates import FunctionUpdates
from lambdatop.runtime.api.versions_api import VersionsApi
from lambdatop.runtime.config import FunctionConfig

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

EPHEMERAL_STORAGE_MB = 512
TOTAL_CODE_SIZE_LIMIT = 75 * 1024**3  # 75 GB per region (80530636800 bytes)
CODE_SIZE_UNZIPPED_LIMIT = 250 * 1024**2
CODE_SIZE_ZIPPED_LIMIT = 50 * 1024**2
_SKIPPED_DIRS = {"__pycache__", ".git", ".venv", "node_modules", ".aws-sam", ".lambdatop"}


class ControlPlane:
    """Builds control-plane answers for one fleet; caches code sizes per code version."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.updates = FunctionUpdates(fleet)  # the write calls, and when each function last changed through them
        self.versions = VersionsApi(fleet, self)  # PublishVersion, ListVersionsByFunction and the alias calls
        self._code_sizes: dict[tuple[str, str], int] = {}

    # -- operations -------------------------------------------------------------------

    def get_function(self, name: str) -> dict[str, Any]:
        function = self.fleet.resolve(name)
        body: dict[str, Any] = {
            "Configuration": self.versions.qualified_configuration(name) or self.configuration(function),
            "Code": {"RepositoryType": "S3", "Location": function.code_dir.resolve().as_uri()},
            "Tags": self.tags(function),
        }
        if function.reserved_concurrency is not None:
            body["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved_concurrency}
        return body

    def tags(self, function: FunctionConfig) -> dict[str, str]:
        """The template's Tags (as ListTags answers them), and where lambdatop read the function."""
        source = {"lambdatop:source": function.source} if function.source else {}
        return template_tags(self.fleet, function) | source

    def get_function_configuration(self, name: str) -> dict[str, Any]:
        return self.versions.qualified_configuration(name) or self.configuration(self.fleet.resolve(name))

    def get_function_concurrency(self, name: str) -> dict[str, Any]:
        function = self.fleet.resolve(name)
        if function.reserved_concurrency is None:
            return {}
        return {"ReservedConcurrentExecutions": function.reserved_concurrency}

    def function_url_config(self, name: str, url: str) -> dict[str, Any]:
        """GetFunctionUrlConfig: only functions the template gives a FunctionUrlConfig have one (else 404)."""
        from lambdatop.runtime.apigateway.url_configs import FunctionUrlNotFound, url_settings

        function = self.fleet.resolve(name)
        settings = url_settings(self.fleet.config, function.name)
        if settings is None:
            raise FunctionUrlNotFound()
        stamp = _iso_timestamp(function.code_dir, self.fleet.config.path)
        body = {
            "FunctionUrl": url,
            "FunctionArn": self.fleet.config.function_arn(function.function_name or function.name),
            "AuthType": settings.auth_type,
            "CreationTime": stamp,
            "LastModifiedTime": stamp,
            "InvokeMode": settings.invoke_mode,
        }
        cors = settings.cors_body()
        return body | ({"Cors": cors} if cors else {})

    def list_functions(self, marker: str | None, max_items: str | None) -> dict[str, Any]:
        functions = sorted(self.fleet.functions.values(), key=lambda f: f.function_name or f.name)
        chosen, next_marker = paged(functions, marker, max_items, "ListFunctions")
        body: dict[str, Any] = {"Functions": [self.configuration(f) for f in chosen]}
        if next_marker is not None:
            body["NextMarker"] = next_marker
        return body

    def account_settings(self) -> dict[str, Any]:
        config = self.fleet.config
        reserved = sum(f.reserved_concurrency or 0 for f in self.fleet.functions.values())
        total_code = sum(self._code_size(f) for f in self.fleet.functions.values())
        return {
            "AccountLimit": {
                "TotalCodeSize": TOTAL_CODE_SIZE_LIMIT,
                "CodeSizeUnzipped": CODE_SIZE_UNZIPPED_LIMIT,
                "CodeSizeZipped": CODE_SIZE_ZIPPED_LIMIT,
                "ConcurrentExecutions": config.account_concurrency,
                "UnreservedConcurrentExecutions": config.account_concurrency - reserved,
            },
            "AccountUsage": {"TotalCodeSize": total_code, "FunctionCount": len(self.fleet.functions)},
        }

    # -- shapes -----------------------------------------------------------------------

    def configuration(self, function: FunctionConfig) -> dict[str, Any]:
        """A FunctionConfiguration as Lambda returns it for `$LATEST` of a deployed zip function."""
        config = self.fleet.config
        pool = self.fleet.pools.get(function.name)
        code_version = pool.code_version if pool is not None else "v1"
        public_name = function.function_name or function.name
        digest = hashlib.sha256(f"{function.fingerprint()}:{code_version}".encode()).digest()
        body: dict[str, Any] = {
            "FunctionName": public_name,
            "FunctionArn": config.function_arn(public_name),
            "Runtime": function.runtime,
            "Role": f"arn:aws:iam::{config.account_id}:role/lambdatop-local",
            "Handler": function.handler,
            "CodeSize": self._code_size(function),
            "Description": function.description,
            "Timeout": function.timeout,
            "MemorySize": function.memory_size,
            "LastModified": _last_modified(function.code_dir, config.path, self.updates.updated_at.get(function.name)),
            "CodeSha256": base64.b64encode(digest).decode(),
            "Version": "$LATEST",
            "TracingConfig": {"Mode": function.tracing},
            "RevisionId": str(uuid.UUID(bytes=digest[:16], version=4)),
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": [function.architecture],
            "EphemeralStorage": {"Size": EPHEMERAL_STORAGE_MB},
            "SnapStart": {"ApplyOn": "PublishedVersions" if function.snap_start else "None", "OptimizationStatus": "Off"},
            "LoggingConfig": function.logging_config.as_api(f"/aws/lambda/{public_name}"),
        }
        if function.environment:
            body["Environment"] = {"Variables": dict(function.environment)}
        if function.layers:
            body["Layers"] = [{"Arn": layer_arn(self.fleet, layer), "CodeSize": 0} for layer in function.layers]
        target = function.dead_letter_queue.get("TargetArn") if function.dead_letter_queue else None
        if isinstance(target, str):
            body["DeadLetterConfig"] = {"TargetArn": target}
        return body

    def _code_size(self, function: FunctionConfig) -> int:
        pool = self.fleet.pools.get(function.name)
        key = (function.name, pool.code_version if pool is not None else "v1")
        size = self._code_sizes.get(key)
        if size is None:
            size = self._code_sizes[key] = _folder_size(function.code_dir)
        return size


def _folder_size(root: Path) -> int:
    """Bytes of the files a deployment zip of `root` would hold (caches and VCS folders skipped)."""
    total = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS]
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def _last_modified(code_dir: Path, config_path: Path, updated_at: float | None = None) -> str:
    """Lambda's `2024-01-31T12:00:00.000+0000`, from the newest of the code folder, the config and an API update."""
    moment = max(_modified_at(code_dir, config_path), updated_at or 0.0)
    millis = int((moment % 1) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}+0000"


def _iso_timestamp(code_dir: Path, config_path: Path) -> str:
    """The function-URL calls' `2024-01-31T12:00:00.123456Z` form of the same moment."""
    moment = _modified_at(code_dir, config_path)
    micros = int((moment % 1) * 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{micros:06d}Z"


def _modified_at(code_dir: Path, config_path: Path) -> float:
    stamps = []
    for path in (code_dir, config_path):
        try:
            stamps.append(path.stat().st_mtime)
        except OSError:
            continue
    return max(stamps) if stamps else time.time()
