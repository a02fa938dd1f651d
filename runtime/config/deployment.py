"""SAM's `DeploymentPreference`: how a newly published version takes over its alias, as CodeDeploy shifts it.

`Type` names one of CodeDeploy's predefined Lambda configurations (`Canary10Percent5Minutes`,
`Linear10PercentEvery1Minute`, `AllAtOnce`...); `Alarms` name alarms whose ALARM state rolls the
shift back. Time passes faster locally: the `deployments:` section's `time_scale` (default 0.01,
so a 5-minute canary lasts 3 s) multiplies every interval. runtime/versions/shifting.py runs it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdatop.runtime.errors import ConfigError

DEFAULT_TIME_SCALE = 0.01  # CodeDeploy's minutes become 0.6 s
_CANARY = re.compile(r"Canary(\d+)Percent(\d+)Minutes?")
_LINEAR = re.compile(r"Linear(\d+)PercentEvery(\d+)Minutes?")
_KEYS = ("Type", "Alarms", "Hooks", "Enabled", "Role", "TriggerConfigurations", "PassthroughCondition")


class ShiftKind(enum.StrEnum):
    CANARY = "canary"  # `percent` for one interval, then everything
    LINEAR = "linear"  # `percent` more every interval
    ALL_AT_ONCE = "all_at_once"


@dataclass(frozen=True)
class DeploymentPreference:
    type_name: str  # as written: "Canary10Percent5Minutes"
    kind: ShiftKind
    percent: int = 100
    interval_minutes: int = 0
    alarms: tuple[str, ...] = ()  # alarm names (a `!Ref` of a template alarm is its logical id)

    def steps(self) -> list[tuple[float, float]]:
        """(minutes after the publish, share of the alias's invocations the new version takes), ending at 1.0."""
        share, interval = self.percent / 100, float(self.interval_minutes)
        if self.kind is ShiftKind.ALL_AT_ONCE or share >= 1:
            return [(0.0, 1.0)]
        if self.kind is ShiftKind.CANARY:
            return [(0.0, share), (interval, 1.0)]
        count = int(1 / share - 1e-9)  # 10 % steps: 10 %, 20 %, ... 90 %, then 100 %
        return [(step * interval, round((step + 1) * share, 6)) for step in range(count)] + [(count * interval, 1.0)]


def read_deployment_preference(value: Any, path: str, line: int | None = None) -> tuple[DeploymentPreference | None, list[str]]:
    """A function's DeploymentPreference (resolved), or None when absent or `Enabled: false`; and notices."""
    if value is None:
        return None, []
    if not isinstance(value, Mapping):
        raise ConfigError("must be a mapping (Type, Alarms, Hooks, Enabled)", path=path, line=line, key="DeploymentPreference")
    unknown = sorted(set(map(str, value)) - set(_KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)} (SAM takes {', '.join(_KEYS)})", path=path,
                          line=line, key="DeploymentPreference")
    if value.get("Enabled", True) in (False, "false", "False"):
        return None, []
    type_name = str(value.get("Type") or "")
    notices = []
    if value.get("Hooks"):
        notices.append("DeploymentPreference Hooks (PreTraffic/PostTraffic) are not run: the shift starts at once")
    canary, linear = _CANARY.fullmatch(type_name), _LINEAR.fullmatch(type_name)
    if canary or linear:
        match = canary or linear
        assert match is not None
        percent, minutes = int(match.group(1)), int(match.group(2))
        if not 0 < percent <= 100:
            raise ConfigError(f"Type {type_name!r}: the percentage must be from 1 to 100", path=path,
                              line=line, key="DeploymentPreference.Type")
        kind = ShiftKind.CANARY if canary else ShiftKind.LINEAR
    else:
        if type_name != "AllAtOnce":
            notices.append(f"DeploymentPreference Type {type_name!r} is not a predefined CodeDeploy configuration "
                           "lambdatop knows: the new version takes the alias at once")
        kind, percent, minutes = ShiftKind.ALL_AT_ONCE, 100, 0
    alarms = value.get("Alarms") or []
    if not isinstance(alarms, list):
        alarms = [alarms]
    names = tuple(str(alarm).strip("<>") for alarm in alarms)  # an unresolved `!Ref X` reads as "<X>"
    return DeploymentPreference(type_name, kind, percent, minutes, names), notices


def time_scale(sections: Mapping[str, Any], where: str) -> float:
    """The `deployments:` section's `time_scale`: 1 runs CodeDeploy's real intervals."""
    section = sections.get("deployments") or {}
    if not isinstance(section, Mapping):
        raise ConfigError("must be a mapping (time_scale)", path=where, key="deployments")
    unknown = sorted(set(map(str, section)) - {"time_scale"})
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)} (expected time_scale)", path=where, key="deployments")
    scale = section.get("time_scale", DEFAULT_TIME_SCALE)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 <= scale <= 1:
        raise ConfigError(f"must be a number from 0 to 1 (1 = real time), got {scale!r}", path=where,
                          key="deployments.time_scale")
    return float(scale)
