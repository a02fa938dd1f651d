"""A published version and an alias: what Lambda's version and alias calls read and write."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from lambdatop.runtime.config import FunctionConfig

LATEST = "$LATEST"
MAX_ADDITIONAL_VERSIONS = 1  # Lambda routes an alias to at most two versions


@dataclass(slots=True)
class PublishedVersion:
    """One numbered version: the function as it was when published, running on its own copy of the code."""

    number: int
    function: FunctionConfig  # its code_dir is the copy taken at publish time
    code_version: str  # lambdatop's code version of $LATEST when it was published ("v3")
    source_key: tuple[str, str]  # (config fingerprint of $LATEST, code version): publishing the same again is a no-op
    code_sha256: str
    description: str
    published_at: float
    code_size: int = 0  # bytes of its code copy

    @property
    def name(self) -> str:
        return str(self.number)


def new_revision() -> str:
    return str(uuid.uuid4())


@dataclass(slots=True)
class Alias:
    """A name for a version; `weights` sends a share of its invocations to one more version (a canary)."""

    name: str
    function_version: str  # a published number, or $LATEST
    description: str = ""
    weights: dict[str, float] = field(default_factory=dict)  # AdditionalVersionWeights: version -> share in [0, 1]
    revision_id: str = field(default_factory=new_revision)

    def pick(self, draw: float) -> str:
        """The version one invocation runs, for a uniform `draw` in [0, 1): each additional version takes
        its weight's share of the draws, the alias's own version the rest."""
        for version, weight in self.weights.items():
            if draw < weight:
                return version
            draw -= weight
        return self.function_version

    def versions(self) -> set[str]:
        return {self.function_version, *self.weights}
