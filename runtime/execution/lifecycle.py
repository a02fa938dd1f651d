"""An execution environment's lifecycle as data: its states and the legal moves, its failures, what its phases return.

    INITIALIZING ──► BUSY ◄──► IDLE ── (Freeze: THAWED ─► FREEZING ─► FROZEN)
         │             │         │
         └─────────────┴─────────┴──► SHUTTING_DOWN ──► GONE

`Freeze` is IDLE's sub-state: Lambda freezes an environment between
invocations, and lambdatop does so with SIGSTOP once the environment has
stayed idle for a few ms (FREEZING until then; taken again sooner, it never
stops).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class EnvState(enum.StrEnum):
    INITIALIZING = "initializing"
    IDLE = "idle"
    BUSY = "busy"
    SHUTTING_DOWN = "shutting_down"
    GONE = "gone"


TRANSITIONS: dict[EnvState, frozenset[EnvState]] = {
    EnvState.INITIALIZING: frozenset({EnvState.BUSY, EnvState.IDLE, EnvState.SHUTTING_DOWN, EnvState.GONE}),
    EnvState.IDLE: frozenset({EnvState.BUSY, EnvState.SHUTTING_DOWN, EnvState.GONE}),
    EnvState.BUSY: frozenset({EnvState.IDLE, EnvState.SHUTTING_DOWN, EnvState.GONE}),
    EnvState.SHUTTING_DOWN: frozenset({EnvState.GONE}),
    EnvState.GONE: frozenset(),
}


class Freeze(enum.Enum):
    """Whether the worker process is stopped (SIGSTOP) while its environment is idle."""

    THAWED = "thawed"
    FREEZING = "freezing"  # idle; stopped once idle for FREEZE_GRACE_S (environment.py) unless taken again
    FROZEN = "frozen"


class IllegalTransition(RuntimeError):
    pass


class Failure(enum.StrEnum):
    """Why an environment stopped serving an invocation."""

    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out_of_memory"
    EXITED = "exited"
    INIT_TIMEOUT = "init_timeout"
    BAD_MESSAGE = "bad_message"  # the worker wrote something on its socket that is not a message it may send


class EnvironmentFailed(Exception):
    """The worker could not finish: it timed out, ran out of memory, died or broke the wire protocol."""

    def __init__(self, failure: Failure, logs: str, detail: str | None = None) -> None:
        super().__init__(failure.value if detail is None else f"{failure.value}: {detail}")
        self.failure = failure
        self.logs = logs
        self.detail = detail


@dataclass(slots=True)
class InitOutcome:
    """What the Init phase reported (messages.InitDone, as the supervisor keeps it)."""

    error: dict[str, Any] | None  # Lambda's error object, when Init failed
    init_ms: float
    logs: str
    started_at: float
    ended_at: float
    # What makes the code unusable, with the user's file and line (worker.handler.diagnose_init); None when it is fine.
    problem: dict[str, Any] | None = None
    # The Error Type the platform logs (INIT_REPORT, REPORT) when it differs from the payload's: a Runtime API
    # runtime's reported type as the emulator validates it (`ValueError` -> Runtime.Unknown).
    error_type: str | None = None
    # Restored from a SnapStart snapshot (execution/snapstart.py): `init_ms` is then the restore's time inside the
    # environment (billed) and `restore_ms` the whole restore, from the spawn to its report (Restore Duration).
    restored: bool = False
    restore_ms: float = 0.0

    @property
    def platform_error_type(self) -> str | None:
        return self.error_type or (self.error["errorType"] if self.error else None)
