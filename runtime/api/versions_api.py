"""The version and alias operations of the endpoint: PublishVersion, ListVersionsByFunction and the alias calls.

Bodies as botocore's lambda 2015-03-31 model shapes them (FunctionConfiguration with a numbered
`Version` and qualified `FunctionArn`; AliasConfiguration with `RoutingConfig.AdditionalVersionWeights`).
The state is the fleet's VersionRegistry (runtime/versions/); this module only reads requests and
shapes answers.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.api.paging import paged
from lambdatop.runtime.errors import InvalidParameterValue, PreconditionFailed
from lambdatop.runtime.execution.snapstart import SnapshotSpawner, SnapshotState
from lambdatop.runtime.versions.model import LATEST, Alias, PublishedVersion

if TYPE_CHECKING:
    from lambdatop.runtime.api.control_plane import ControlPlane
    from lambdatop.runtime.fleet import Fleet


class VersionsApi:
    """Answers the version and alias calls for one fleet; `control` shapes the FunctionConfiguration bodies."""

    def __init__(self, fleet: Fleet, control: ControlPlane) -> None:
        self.fleet = fleet
        self.control = control

    def publish_version(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        function = self.fleet.resolve(name)
        revision = body.get("RevisionId")
        if revision is not None and revision != self.control.configuration(function)["RevisionId"]:
            raise PreconditionFailed("The Revision Id provided does not match the latest Revision Id. "
                                     "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
        version = self.fleet.versions.publish(self.fleet.pools[function.name], _text(body, "Description"),
                                              _optional_text(body, "CodeSha256"))
        return self.version_configuration(version)

    def list_versions(self, name: str, marker: str | None = None, max_items: str | None = None) -> dict[str, Any]:
        """$LATEST, then the numbers in order, 50 a page at most (as Lambda pages them)."""
        function = self.fleet.resolve(name)
        published = self.fleet.versions.of(function.name).versions
        every: list[PublishedVersion | None] = [None, *(published[number] for number in sorted(published))]
        page, next_marker = paged(every, marker, max_items, "ListVersionsByFunction")
        body: dict[str, Any] = {"Versions": [self.control.configuration(function) if version is None
                                             else self.version_configuration(version) for version in page]}
        return body | ({"NextMarker": next_marker} if next_marker else {})

    def qualified_configuration(self, name: str) -> dict[str, Any] | None:
        """GetFunctionConfiguration of `FN:2` or `FN:alias` (the alias's own version, its ARN kept); None for $LATEST."""
        pool, qualifier = self.fleet.invoker.resolve(name)
        if qualifier in (None, LATEST):
            return None
        state = self.fleet.versions.of(pool.name)
        alias = state.aliases.get(str(qualifier))
        number = alias.function_version if alias is not None else str(qualifier)
        if number == LATEST:
            body = self.control.configuration(pool.function)
        else:
            body = self.version_configuration(state.versions[int(number)])
        if alias is not None:
            body["FunctionArn"] = self.fleet.config.function_arn(pool.function.function_name or pool.name, alias.name)
        return body

    def version_configuration(self, version: PublishedVersion) -> dict[str, Any]:
        """A published version's FunctionConfiguration: as $LATEST's was when published, numbered."""
        function = version.function
        body = self.control.configuration(function)
        public_name = function.function_name or function.name
        body.update({
            "FunctionArn": self.fleet.config.function_arn(public_name, version.name),
            "Version": version.name,
            "CodeSha256": version.code_sha256,
            "CodeSize": version.code_size,
            "Description": version.description or function.description,
            "LastModified": _timestamp(version.published_at),
        })
        if function.snap_start:
            body["SnapStart"] = {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
            pool = self.fleet.versions.of(function.name).pools.get(version.number)
            snapshot = pool.spawner if pool is not None else None
            state = snapshot.state if isinstance(snapshot, SnapshotSpawner) else None
            if state is SnapshotState.CREATING:
                body.update({"State": "Pending", "StateReason": "Lambda is creating the SnapStart snapshot.",
                             "StateReasonCode": "Creating"})
            elif state is SnapshotState.FAILED:
                assert isinstance(snapshot, SnapshotSpawner)
                body.update({"State": "Failed", "StateReason": snapshot.failure, "StateReasonCode": "FunctionError"})
        return body

    # -- aliases ----------------------------------------------------------------------

    def create_alias(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        function = self.fleet.resolve(name)
        alias = self.fleet.versions.create_alias(
            function.name, _required_text(body, "Name"), _required_text(body, "FunctionVersion"),
            _text(body, "Description"), _weights(body))
        return self.alias_configuration(function.name, alias)

    def update_alias(self, name: str, alias_name: str, body: dict[str, Any]) -> dict[str, Any]:
        function = self.fleet.resolve(name)
        alias = self.fleet.versions.update_alias(
            function.name, alias_name, _optional_text(body, "FunctionVersion"), _optional_text(body, "Description"),
            _weights(body) if "RoutingConfig" in body else None, _optional_text(body, "RevisionId"))
        return self.alias_configuration(function.name, alias)

    def get_alias(self, name: str, alias_name: str) -> dict[str, Any]:
        function = self.fleet.resolve(name)
        return self.alias_configuration(function.name, self.fleet.versions.get_alias(function.name, alias_name))

    def delete_alias(self, name: str, alias_name: str) -> None:
        self.fleet.versions.delete_alias(self.fleet.resolve(name).name, alias_name)

    def list_aliases(self, name: str, function_version: str | None, marker: str | None = None,
                     max_items: str | None = None) -> dict[str, Any]:
        function = self.fleet.resolve(name)
        aliases = self.fleet.versions.of(function.name).aliases
        chosen = [a for _, a in sorted(aliases.items()) if function_version in (None, "") or a.function_version == function_version]
        page, next_marker = paged(chosen, marker, max_items, "ListAliases")
        body: dict[str, Any] = {"Aliases": [self.alias_configuration(function.name, alias) for alias in page]}
        return body | ({"NextMarker": next_marker} if next_marker else {})

    def alias_configuration(self, name: str, alias: Alias) -> dict[str, Any]:
        function = self.fleet.pools[name].function
        body: dict[str, Any] = {
            "AliasArn": self.fleet.config.function_arn(function.function_name or function.name, alias.name),
            "Name": alias.name,
            "FunctionVersion": alias.function_version,
            "Description": alias.description,
            "RevisionId": alias.revision_id,
        }
        if alias.weights:
            body["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.weights)}
        return body


def _weights(body: dict[str, Any]) -> dict[str, float]:
    routing = body.get("RoutingConfig") or {}
    weights = routing.get("AdditionalVersionWeights") if isinstance(routing, dict) else None
    if weights is None:
        return {}
    if not isinstance(weights, dict):
        raise InvalidParameterValue("RoutingConfig.AdditionalVersionWeights must be a map of version to weight")
    return {str(version): weight for version, weight in weights.items()}


def _text(body: dict[str, Any], key: str) -> str:
    return _optional_text(body, key) or ""


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidParameterValue(f"{key} must be a string")
    return value


def _required_text(body: dict[str, Any], key: str) -> str:
    value = _optional_text(body, key)
    if not value:
        raise InvalidParameterValue(f"1 validation error detected: Value null at '{key[0].lower() + key[1:]}' failed to "
                                    "satisfy constraint: Member must not be null")
    return value


def _timestamp(moment: float) -> str:
    """Lambda's `2024-01-31T12:00:00.000+0000`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int((moment % 1) * 1000):03d}+0000"

