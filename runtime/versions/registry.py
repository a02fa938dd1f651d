"""The fleet's published versions and aliases, and the pools that run the published versions.

One `FunctionVersions` per function that has published anything. Publishing copies the code folder
(so later edits reach `$LATEST` only) and makes a pool for the version; its environments get
`AWS_LAMBDA_FUNCTION_VERSION` and log streams of that number, as on Lambda. Concurrency stays the
function's: every version's invocations pass the same gate.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from lambdatop.runtime.config import FunctionConfig
from lambdatop.runtime.errors import (
    InvalidParameterValue, LambdaServiceError, PreconditionFailed, ResourceConflict, ResourceNotFound,
)
from lambdatop.runtime.execution.pool import FunctionPool
from lambdatop.runtime.snapshot import VersionsView
from lambdatop.runtime.versions.shifting import TrafficShifter
from lambdatop.runtime.versions.traffic import VersionTraffic
from lambdatop.runtime.versions.model import LATEST, MAX_ADDITIONAL_VERSIONS, Alias, PublishedVersion, new_revision

# What a deployment package would not hold: caches, VCS and tool folders (lambdatop's own store among them).
_NOT_CODE = shutil.ignore_patterns("__pycache__", "*.pyc", ".git", ".venv", ".aws-sam", ".lambdatop", ".mypy_cache",
                                   ".pytest_cache")

CODE_SIZE_UNZIPPED_LIMIT = 250 * 1024**2  # 262144000 bytes, Lambda's limit for a function and its layers
PoolFactory = Callable[[PublishedVersion], FunctionPool]
ArnOf = Callable[[str, str | None], str]  # (function name, qualifier) -> its ARN, for Lambda's error messages
Warn = Callable[[str, str], None]  # (function name, message): a publish that did not happen


@dataclass(slots=True)
class FunctionVersions:
    """One function's published versions (by number), their pools, and its aliases."""

    versions: dict[int, PublishedVersion] = field(default_factory=dict)
    pools: dict[int, FunctionPool] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)
    last_number: int = 0  # numbers are never reused, as on Lambda


class VersionRegistry:
    """Publishes versions, keeps aliases, and finds the pool an invocation of `FN:qualifier` runs on."""

    def __init__(self, root: Path, make_pool: PoolFactory, arn_of: ArnOf, draw: Callable[[], float] = random.random) -> None:
        self.root = root  # the run's work dir's versions/ folder: one code copy per published version
        self.make_pool = make_pool
        self.arn_of = arn_of
        self.draw = draw
        self.functions: dict[str, FunctionVersions] = {}
        self.shifter: TrafficShifter | None = None  # runs DeploymentPreference shifts, from `start()`
        self.warn: Warn = lambda function, message: None
        self.traffic = VersionTraffic()  # each version's invocations, errors and p99, for the screen

    # -- publishing -------------------------------------------------------------------

    def publish(self, pool: FunctionPool, description: str = "", code_sha256: str | None = None) -> PublishedVersion:
        """PublishVersion of `$LATEST` as `pool` runs it now; unchanged since the last publish, that version again."""
        state = self.functions.setdefault(pool.name, FunctionVersions())
        key = (pool.function.fingerprint(), pool.code_version)
        digest = code_digest(pool)
        if code_sha256 is not None and code_sha256 != digest:
            raise InvalidParameterValue(f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
                                        f"({digest}). Please try again with the CodeSHA256 in $LATEST.")
        latest = state.versions.get(state.last_number)
        if latest is not None and latest.source_key == key:
            return latest
        return self._add_version(pool, pool.function, key, digest, description)

    def publish_variant(self, pool: FunctionPool, function: FunctionConfig, description: str) -> PublishedVersion:
        """A version of `$LATEST`'s code with another configuration (`function`), `$LATEST` left as it is.

        What a power-tuning run publishes for each memory size, as aws-lambda-power-tuning does (it
        updates the function, publishes, and moves on); here `$LATEST` is not touched, so an AutoPublishAlias
        does not follow and its warm environments stay. The caller deletes the version when done.
        """
        key = (function.fingerprint(), pool.code_version)
        return self._add_version(pool, function, key, code_digest(pool), description)

    def _add_version(self, pool: FunctionPool, source: FunctionConfig, key: tuple[str, str], digest: str,
                     description: str) -> PublishedVersion:
        state = self.functions.setdefault(pool.name, FunctionVersions())
        number = state.last_number + 1
        folder = self.root / pool.name / str(number)
        if source.cannot_run is None:
            shutil.rmtree(folder, ignore_errors=True)
            # A copy, not a link: the point of a version is that edits to the folder do not reach it. Links are
            # followed, as a deployment zip holds what they point at (a relative link would break in the copy).
            _copy_code(source.code_dir, folder)
        else:
            folder = source.code_dir  # never runs: its stand-in folder (maybe the whole project) is not copied
        function = replace(source, code_dir=folder, description=description or source.description)
        version = PublishedVersion(number, function, pool.code_version, key, digest, description, time.time(),
                                   _folder_size(folder) if source.cannot_run is None else 0)
        state.versions[number] = version
        state.last_number = number
        state.pools[number] = self.make_pool(version)
        return version

    # -- the fleet's lifetime ---------------------------------------------------------------

    def start(self, shifter: TrafficShifter, pools: Iterable[FunctionPool], warn: Warn) -> None:
        """The fleet started: deployments can shift aliases, and AutoPublishAlias publishes version 1, as the first
        `sam deploy` does. `warn(function, message)` says why a publish did not happen."""
        self.shifter = shifter
        self.warn = warn
        for pool in pools:
            self.publish_after_change(pool)

    def stop(self) -> None:
        if self.shifter is not None:
            self.shifter.stop()

    def publish_after_change(self, pool: FunctionPool) -> None:
        """AutoPublishAlias after a change of code or configuration (nothing before the fleet starts: its start
        publishes). A publish Lambda would refuse (code over 250 MB) is a warning, and the alias stays where it was."""
        if self.shifter is None:
            return
        try:
            self.auto_publish(pool)
        except (LambdaServiceError, OSError) as exc:
            self.warn(pool.name, f"{pool.name}: not published: {exc}")

    def auto_publish(self, pool: FunctionPool) -> PublishedVersion | None:
        """AutoPublishAlias: publish what changed and point the alias at it (its weights cleared, as a plain
        `sam deploy` without DeploymentPreference does); None for a function without one."""
        alias_name = pool.function.auto_publish_alias
        if alias_name is None or pool.function.cannot_run is not None:
            return None
        version = self.publish(pool)
        aliases = self.of(pool.name).aliases
        current = aliases.get(alias_name)
        preference = pool.function.deployment_preference
        if current is None:
            aliases[alias_name] = Alias(alias_name, version.name)
        elif preference is not None and self.shifter is not None and current.function_version.isdigit() \
                and current.function_version != version.name:
            if self.shifter.last_target(pool.name, alias_name) == version.name:
                return version  # already shifted (or rolled back) to this version: a redeploy changes nothing
            # DeploymentPreference: the new version takes the alias step by step (shifting.py).
            self.shifter.start(pool.name, current, current.function_version, version.name, preference)
        elif current.function_version != version.name or current.weights:
            current.function_version, current.weights, current.revision_id = version.name, {}, new_revision()
        return version

    # -- aliases ----------------------------------------------------------------------

    def create_alias(self, name: str, alias: str, version: str, description: str = "",
                     weights: Mapping[str, float] | None = None) -> Alias:
        check_alias_name(alias)
        aliases = self.of(name).aliases
        if alias in aliases:
            raise ResourceConflict(f"Alias already exists: {self.arn_of(name, alias)}")
        self._check_target(name, version, weights or {})
        created = aliases[alias] = Alias(alias, version, description, dict(weights or {}))
        return created

    def update_alias(self, name: str, alias: str, version: str | None = None, description: str | None = None,
                     weights: Mapping[str, float] | None = None, revision_id: str | None = None) -> Alias:
        current = self.get_alias(name, alias)
        if revision_id is not None and revision_id != current.revision_id:
            raise PreconditionFailed("The Revision Id provided does not match the latest Revision Id. "
                                     "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
        target = version if version is not None else current.function_version
        routing = dict(weights) if weights is not None else current.weights
        self._check_target(name, target, routing)
        current.function_version, current.weights = target, routing
        if description is not None:
            current.description = description
        current.revision_id = new_revision()
        return current

    def get_alias(self, name: str, alias: str) -> Alias:
        found = self.of(name).aliases.get(alias)
        if found is None:
            raise ResourceNotFound(f"Alias not found: {self.arn_of(name, alias)}")
        return found

    def delete_alias(self, name: str, alias: str) -> None:
        self.of(name).aliases.pop(alias, None)  # DeleteAlias of a missing alias is a 204 too

    def _check_target(self, name: str, version: str, weights: Mapping[str, float]) -> None:
        """What Lambda refuses in an alias: a version that does not exist, $LATEST with routing, bad weights."""
        self._require_version(name, version)
        if not weights:
            return
        if version == LATEST:
            raise InvalidParameterValue("$LATEST is not supported for an alias pointing to more than 1 version")
        if len(weights) > MAX_ADDITIONAL_VERSIONS:
            raise InvalidParameterValue("Number of items in AdditionalVersionWeights cannot be greater than 1")
        for extra, weight in weights.items():
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0.0 <= weight <= 1.0:
                raise InvalidParameterValue(
                    f"1 validation error detected: Value '{{{extra}={weight}}}' at 'routingConfig.additionalVersionWeights' "
                    "failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than "
                    "or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]")
            if extra == version:
                raise InvalidParameterValue(f"Invalid function version {extra}. Function version {extra} is already "
                                            "included in routing configuration.")
            if extra == LATEST or not extra.isdigit():
                raise InvalidParameterValue("$LATEST is not supported for an alias pointing to more than 1 version")
            self._require_version(name, extra)

    def _require_version(self, name: str, version: str) -> None:
        if version == LATEST:
            return
        if not version.isdigit() or int(version) not in self.of(name).versions:
            raise ResourceNotFound(f"Function not found: {self.arn_of(name, version)}")

    def delete_version(self, name: str, qualifier: str) -> None:
        """DeleteFunction with a version qualifier: its pool, environments and code copy go (numbers are not reused)."""
        if qualifier == LATEST:
            raise InvalidParameterValue("$LATEST version cannot be deleted without deleting the function.")
        state = self.of(name)
        if not qualifier.isdigit():
            raise InvalidParameterValue(f"Deletion of aliases is not supported through DeleteFunction: use DeleteAlias "
                                        f"({qualifier!r} is not a version number)")
        self._require_version(name, qualifier)
        users = sorted(alias.name for alias in state.aliases.values() if qualifier in alias.versions())
        if users:
            raise ResourceConflict(f"Unable to delete version because the following aliases reference it: [{', '.join(users)}]")
        del state.versions[int(qualifier)]
        state.pools.pop(int(qualifier)).shutdown_all()
        shutil.rmtree(self.root / name / qualifier, ignore_errors=True)

    # -- invoking ---------------------------------------------------------------------

    def exists(self, name: str, qualifier: str) -> bool:
        state = self.functions.get(name)
        if state is None:
            return False
        return qualifier in state.aliases or (qualifier.isdigit() and int(qualifier) in state.versions)

    def pool_for(self, base: FunctionPool, qualifier: str | None) -> FunctionPool:
        """The pool an invocation of `base`'s function with `qualifier` runs on; an alias draws its version.
        The qualifier must exist (`exists`): the invoker has said Function not found otherwise."""
        if qualifier is None or qualifier == LATEST:
            return base
        state = self.functions[base.name]
        alias = state.aliases.get(qualifier)
        version = alias.pick(self.draw()) if alias is not None else qualifier
        return base if version == LATEST else state.pools[int(version)]

    # -- the fleet's bookkeeping --------------------------------------------------------

    def of(self, name: str) -> FunctionVersions:
        return self.functions.get(name) or FunctionVersions()

    def all_pools(self) -> Iterator[FunctionPool]:
        for state in self.functions.values():
            yield from state.pools.values()

    def pools_of(self, name: str) -> list[FunctionPool]:
        state = self.functions.get(name)
        return list(state.pools.values()) if state is not None else []

    def view(self, base: FunctionPool) -> VersionsView | None:
        """The function's versions and aliases side by side; None when it has published nothing."""
        state = self.functions.get(base.name)
        if state is None:
            return None
        shifts = self.shifter.deployments if self.shifter is not None else {}
        deployments = {alias: shift for (function, alias), shift in shifts.items() if function == base.name}
        pools = [base, *(state.pools[number] for number in sorted(state.pools))]
        return self.traffic.view(base.name, pools, [state.aliases[a] for a in sorted(state.aliases)], deployments)

    def forget(self, name: str) -> None:
        """A function removed from the config: its versions go, their environments and code copies with them."""
        self.traffic.forget(name)
        state = self.functions.pop(name, None)
        if state is None:
            return
        for pool in state.pools.values():
            pool.shutdown_all()
        shutil.rmtree(self.root / name, ignore_errors=True)

    def shutdown(self) -> None:
        for pool in self.all_pools():
            pool.shutdown_all()


def code_digest(pool: FunctionPool) -> str:
    """The CodeSha256 lambdatop reports for `$LATEST` as `pool` runs it (base64 SHA-256, as Lambda's)."""
    digest = hashlib.sha256(f"{pool.function.fingerprint()}:{pool.code_version}".encode()).digest()
    return base64.b64encode(digest).decode()


def _copy_code(source: Path, folder: Path) -> None:
    """Copy a code folder, refusing past Lambda's 250 MB unzipped (a `CodeUri: .` over a big project, say)."""
    copied = 0

    def copy(src: str, dst: str) -> object:
        nonlocal copied
        copied += os.stat(src).st_size
        if copied > CODE_SIZE_UNZIPPED_LIMIT:
            raise InvalidParameterValue(f"Unzipped size must be smaller than {CODE_SIZE_UNZIPPED_LIMIT} bytes "
                                        f"(the code folder {source} is larger: no version was published)")
        return shutil.copy2(src, dst)

    try:
        shutil.copytree(source, folder, ignore=_NOT_CODE, copy_function=copy)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _folder_size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file() and not path.is_symlink())


def check_alias_name(alias: str) -> None:
    if not alias or len(alias) > 128 or alias.isdigit() or not all(c.isalnum() or c in "-_" for c in alias):
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{alias}' at 'name' failed to satisfy constraint: Member must satisfy "
            "regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
