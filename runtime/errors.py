"""Typed errors.

Two families: `ConfigError` for a configuration we refuse to run, and
`LambdaServiceError` for what Lambda's Invoke API itself would answer with an
HTTP error (the caller's fault or the service's), each carrying the exact
status, error code and body shape boto3 parses. Function errors are *not*
exceptions: they are successful calls whose record says `error`.

    * ConfigError                       a config we refuse to run (file, line, function, key)
    * LambdaServiceError                Lambda's own HTTP errors, as boto3 parses them
      + FunctionNotFound                  404 ResourceNotFoundException
      + InvalidRequestContent             400
      + InvalidParameterValue             400
      + RequestTooLarge                   413
      + Throttled                         429 TooManyRequestsException (with Reason)
      + FleetStopped                      503, the fleet is shutting down
      + UnknownOperation                  404, a path or method we do not serve (names the operation)
      + ResourceNotFound                  404 ResourceNotFoundException for a resource other than a function
      + ProvisionedConcurrencyNotFound    404, no function has provisioned concurrency locally
      + PreconditionFailed                412, a write call's RevisionId is not the function's current one
      + ResourceConflict                  409 ResourceConflictException: an alias that already exists
    * StoreError                        the store cannot be opened or written
    * ReplayError                       an event set that cannot be replayed
    * RemoteAccessRefused               a non-loopback address without allow_remote
    * EndpointUnavailable               an address that cannot be bound
    * ScheduleNotFound                  firing a schedule by a name no schedule has
    * SidecarUnavailable                the AWS services sidecar could not start

Raised and caught inside one layer, so they stay beside their code:
`execution.lifecycle.EnvironmentFailed` / `IllegalTransition` (an
environment's lifecycle), `execution.spawner.SpawnerError`,
`observability.xray_daemon.MalformedDatagram`, `observability.percentiles.UnknownStatistic`,
and, worker side (it may import nothing of this module), `worker.handler.FaultError`
and `worker.messages.BadMessage` (a frame that is not a message its receiver accepts).

Defined beside their users: `apigateway.server.ApiUnavailable` (a ConfigError:
the API port cannot be bound or is not loopback) and
`apigateway.url_configs.FunctionUrlNotFound` (a LambdaServiceError:
GetFunctionUrlConfig on a function without a FunctionUrlConfig).

Elsewhere: `InvalidScheduleExpression` (config/cron.py, a ValueError that the
config reader turns into a ConfigError with its line).

Defined beside the code that raises them: `MappingNotFound` (triggers/mappings_api.py: a LambdaServiceError,
404 ResourceNotFoundException for an unknown event source mapping UUID).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024  # 6291456 bytes, request and response
ASYNC_PAYLOAD_LIMIT = 1024 * 1024  # raised from 256 KB in Oct 2025
# The runtime's own response POST may be 100 bytes over 6 MB (RIE MaxPayloadSize).
RESPONSE_PAYLOAD_LIMIT = SYNC_PAYLOAD_LIMIT + 100


@dataclass
class ConfigError(Exception):
    """A configuration we refuse to run; says which file, function, key and line."""

    message: str
    path: str | None = None
    line: int | None = None
    function: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = self.path or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        subject = ""
        if self.function:
            subject += f"function {self.function!r}: "
        if self.key:
            subject += f"{self.key}: "
        return f"{where}: {subject}{self.message}"


class LambdaServiceError(Exception):
    """An error the Lambda service answers with, before or instead of running code."""

    status: int = 500
    code: str = "ServiceException"
    error_kind: str = "Service"  # the body's "Type": User or Service
    message_key: str = "message"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON body Lambda sends for this error (rest-json protocol)."""
        return {"Type": self.error_kind, self.message_key: self.message}

    def headers(self) -> dict[str, str]:
        return {"x-amzn-ErrorType": self.code}


class FunctionNotFound(LambdaServiceError):
    status = 404
    code = "ResourceNotFoundException"
    error_kind = "User"
    message_key = "Message"

    def __init__(self, name: str, arn: str | None = None) -> None:
        target = arn or name
        super().__init__(f"Function not found: {target}")
        self.name = name


class InvalidRequestContent(LambdaServiceError):
    status = 400
    code = "InvalidRequestContentException"
    error_kind = "User"


class InvalidParameterValue(LambdaServiceError):
    status = 400
    code = "InvalidParameterValueException"
    error_kind = "User"


class RequestTooLarge(LambdaServiceError):
    """Payload over the invocation type's limit.

    On the wire Lambda names this `RequestEntityTooLargeException` with a
    `Message` body, though the API model calls it RequestTooLargeException.
    """

    status = 413
    code = "RequestEntityTooLargeException"
    error_kind = "User"
    message_key = "Message"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"Request must be smaller than {limit} bytes for the InvokeFunction operation")
        self.size = size
        self.limit = limit


class Throttled(LambdaServiceError):
    """TooManyRequestsException: the concurrency gate said no."""

    status = 429
    code = "TooManyRequestsException"
    error_kind = "User"

    ACCOUNT = "ConcurrentInvocationLimitExceeded"
    RESERVED = "ReservedFunctionConcurrentInvocationLimitExceeded"

    def __init__(self, reason: str) -> None:
        super().__init__("Rate Exceeded.")
        self.reason = reason
        self.record: Any = None  # the InvocationRecord of the throttled call, set by the invoker

    def body(self) -> dict[str, Any]:
        return {"Reason": self.reason, "Type": self.error_kind, "message": self.message}


class FleetStopped(LambdaServiceError):
    """The fleet is shutting down and takes no new invocations."""

    status = 503
    code = "ServiceException"


class FunctionCannotRun(LambdaServiceError):
    """A function lambdatop cannot run (another runtime, a container image, code in S3): Invoke's 502, as the
    service answers for a runtime it does not support (InvalidRuntimeException), with lambdatop's reason."""

    status = 502
    code = "InvalidRuntimeException"
    error_kind = "User"
    message_key = "Message"

    def __init__(self, name: str, reason: str, code: str = "InvalidRuntimeException") -> None:
        super().__init__(f"lambdatop cannot run function {name}: {reason}")
        self.code = code
        self.name = name


class UnknownOperation(LambdaServiceError):
    """A path or method the Lambda API does not have (or lambdatop does not serve)."""

    status = 404
    code = "UnknownOperationException"
    error_kind = "User"


class ResourceNotFound(LambdaServiceError):
    """404 ResourceNotFoundException for what is not a function: a policy, an EventInvokeConfig, a layer version."""

    status = 404
    code = "ResourceNotFoundException"
    error_kind = "User"
    message_key = "Message"


class ProvisionedConcurrencyNotFound(LambdaServiceError):
    """GetProvisionedConcurrencyConfig: nothing is provisioned locally (every environment starts on demand)."""

    status = 404
    code = "ProvisionedConcurrencyConfigNotFoundException"
    error_kind = "User"

    def __init__(self) -> None:
        super().__init__("No Provisioned Concurrency Config found for this function")


class PreconditionFailed(LambdaServiceError):
    """A write call carried a RevisionId that is no longer the function's (someone changed it meanwhile)."""

    status = 412
    code = "PreconditionFailedException"
    error_kind = "User"


class ResourceConflict(LambdaServiceError):
    """409 ResourceConflictException: creating what exists already (an alias of that name)."""

    status = 409
    code = "ResourceConflictException"
    error_kind = "User"


class StoreError(Exception):
    """The store cannot be opened or written; the message says what to do."""


class ReplayError(Exception):
    """An event set that cannot be replayed (bad line, truncated payload); says where."""


class RemoteAccessRefused(ValueError):
    """A non-loopback address without allow_remote: anyone who can reach it could run the functions."""


class EndpointUnavailable(Exception):
    """The address could not be bound (port in use, address not local, no permission)."""


class ScheduleNotFound(LookupError):
    """Firing a schedule by a name no schedule has."""


class SidecarUnavailable(Exception):
    """The AWS services are not there: the sidecar could not start (a busy port, moto missing) or is not run."""
