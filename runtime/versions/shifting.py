"""Traffic shifting: a new version takes over its alias step by step, and goes back if an alarm fires.

What CodeDeploy does for SAM's `DeploymentPreference`, on a faster clock (`time_scale`): the alias
stays on the old version with `AdditionalVersionWeights` {new: share}, the share grows as the
configuration's steps say (a canary: 10 % then all; linear: 10 % more each interval), and at the
end the alias names the new version alone. While it runs, the named alarms are watched; one in
ALARM rolls back (the alias on the old version, no weights), as CodeDeploy stops a deployment.

    IN_PROGRESS ──► SUCCEEDED
         │
         ├────────► ROLLED_BACK   (an alarm in ALARM)
         └────────► SUPERSEDED    (a newer version was published meanwhile)
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lambdatop.runtime.config.deployment import DeploymentPreference
from lambdatop.runtime.versions.model import Alias, new_revision

ALARM_POLL_S = 0.1  # how often the alarms are read while a shift runs


class DeploymentState(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled_back"
    SUPERSEDED = "superseded"


_NEXT = {DeploymentState.IN_PROGRESS: {DeploymentState.SUCCEEDED, DeploymentState.ROLLED_BACK, DeploymentState.SUPERSEDED}}


@dataclass(slots=True)
class Deployment:
    """One shift of `alias` from version `old` to version `new`."""

    function: str
    alias: Alias
    old: str
    new: str
    preference: DeploymentPreference
    started_at: float = field(default_factory=time.time)
    state: DeploymentState = DeploymentState.IN_PROGRESS
    share: float = 0.0  # of the alias's invocations the new version takes now
    reason: str = ""

    def move(self, state: DeploymentState, reason: str = "") -> None:
        if state not in _NEXT.get(self.state, set()):
            raise ValueError(f"a deployment cannot go from {self.state} to {state}")
        self.state, self.reason = state, reason

    def detail(self) -> dict[str, object]:
        """What a `deployment` notice carries, as plain data."""
        return {"alias": self.alias.name, "from": self.old, "to": self.new, "state": str(self.state),
                "share": self.share, "reason": self.reason}

    def route(self, share: float) -> None:
        """Point the alias: all on the old version plus `share` on the new, or all on the new at 1."""
        self.share = share
        if share >= 1.0:
            self.alias.function_version, self.alias.weights = self.new, {}
        else:
            self.alias.function_version, self.alias.weights = self.old, ({self.new: share} if share > 0 else {})
        self.alias.revision_id = new_revision()


AlarmState = Callable[[str], str | None]  # alarm name -> OK | ALARM | INSUFFICIENT_DATA, None for an unknown one
AlarmFired = Callable[[str, float], bool]  # alarm name, a time -> in ALARM now, or went into it since then
Notify = Callable[[Deployment, str], None]  # a deployment and what just happened, in words


class TrafficShifter:
    """Runs deployments, one per alias at a time, as tasks on the running loop."""

    def __init__(self, alarm_state: AlarmState, alarm_fired: AlarmFired, notify: Notify, time_scale: float) -> None:
        self.alarm_state = alarm_state
        self.alarm_fired = alarm_fired
        self.notify = notify
        self.time_scale = time_scale
        self.deployments: dict[tuple[str, str], Deployment] = {}  # (function, alias) -> the latest
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    def start(self, function: str, alias: Alias, old: str, new: str, preference: DeploymentPreference) -> Deployment:
        key = (function, alias.name)
        previous = self.deployments.get(key)
        if previous is not None and previous.state is DeploymentState.IN_PROGRESS:
            self._tasks.pop(key).cancel()
            previous.move(DeploymentState.SUPERSEDED, f"version {new} was published")
        deployment = Deployment(function, alias, old, new, preference)
        self.deployments[key] = deployment
        unknown = [name for name in preference.alarms if self.alarm_state(name) is None]
        if unknown:  # not in the alarms: section, not the defaults, not a template alarm lambdatop can evaluate
            self.notify(deployment, f"{function}:{alias.name}: alarm(s) {', '.join(unknown)} are not alarms lambdatop "
                                    "evaluates (the alarms: section's names, FUNCTION-Errors, or the template's "
                                    "AWS::CloudWatch::Alarm logical ids): they cannot roll back")
        steps = preference.steps()
        deployment.route(steps[0][1])
        self.notify(deployment, f"{function}:{alias.name}: shifting to version {new} ({preference.type_name}), "
                                f"{steps[0][1]:.0%} first")
        if deployment.share >= 1.0:
            deployment.move(DeploymentState.SUCCEEDED)
            return deployment
        self._tasks[key] = asyncio.get_running_loop().create_task(self._run(deployment, steps[1:]),
                                                                  name=f"lambdatop-deploy-{function}-{alias.name}")
        return deployment

    async def _run(self, deployment: Deployment, steps: list[tuple[float, float]]) -> None:
        for minutes, share in steps:
            due = deployment.started_at + minutes * 60 * self.time_scale
            while (now := time.time()) < due:
                if self._rolled_back(deployment):
                    return
                await asyncio.sleep(min(ALARM_POLL_S, due - now))
            if self._rolled_back(deployment):
                return
            deployment.route(share)
            if share < 1.0:
                self.notify(deployment, f"{deployment.function}:{deployment.alias.name}: version {deployment.new} "
                                        f"takes {share:.0%}")
        deployment.move(DeploymentState.SUCCEEDED)
        self.notify(deployment, f"{deployment.function}:{deployment.alias.name}: version {deployment.new} takes all "
                                f"traffic ({deployment.preference.type_name} succeeded)")

    def _rolled_back(self, deployment: Deployment) -> bool:
        """Roll back if a watched alarm is in ALARM, or went into it since the shift began (periods judged late
        are judged together, so an alarm can go to ALARM and back to OK between two polls); True when it did."""
        firing = [name for name in deployment.preference.alarms if self.alarm_fired(name, deployment.started_at)]
        if not firing:
            return False
        deployment.route(0.0)
        deployment.move(DeploymentState.ROLLED_BACK, f"alarm {firing[0]} is in ALARM")
        self.notify(deployment, f"{deployment.function}:{deployment.alias.name}: rolled back to version "
                                f"{deployment.old}: alarm {firing[0]} is in ALARM")
        return True

    def last_target(self, function: str, alias: str) -> str | None:
        """The version the alias's latest deployment shifted (or is shifting) to."""
        deployment = self.deployments.get((function, alias))
        return deployment.new if deployment is not None else None

    def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
