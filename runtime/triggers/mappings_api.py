"""The event source mapping calls of Lambda's API: ListEventSourceMappings, GetEventSourceMapping, UpdateEventSourceMapping.

Bodies in the 2015-03-31 REST shape boto3 parses. Only `Enabled`,
`BatchSize` and `MaximumBatchingWindowInSeconds` can be updated; they apply
at the next poll and last until the template itself changes the mapping.
"""

from __future__ import annotations

import time
from typing import Any

from lambdatop.runtime.errors import InvalidParameterValue, LambdaServiceError
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.triggers.mapping_state import MappingState
from lambdatop.runtime.triggers.service import TriggerService, trigger_service
from lambdatop.runtime.triggers.sources import QueueMapping, StreamMapping


class MappingNotFound(LambdaServiceError):
    status = 404
    code = "ResourceNotFoundException"


def list_mappings(fleet: Fleet, function: str | None = None, source_arn: str | None = None) -> dict[str, Any]:
    service = _service(fleet)
    mappings = [] if service is None else service.desired().mappings
    if function:
        name = fleet.resolve(function).name
        mappings = tuple(m for m in mappings if m.function == name)
    if source_arn:
        mappings = tuple(m for m in mappings if m.source_arn == source_arn)
    return {"EventSourceMappings": [describe(fleet, service, m) for m in mappings]}


def get_mapping(fleet: Fleet, ident: str) -> dict[str, Any]:
    service = _service(fleet)
    mapping = service.mapping(ident) if service else None
    if mapping is None or service is None:
        raise MappingNotFound(f"The resource you requested does not exist. (Service: Lambda, Status Code: 404, UUID: {ident})")
    return describe(fleet, service, mapping)


def update_mapping(fleet: Fleet, ident: str, body: dict[str, Any]) -> dict[str, Any]:
    service = _service(fleet)
    if service is None or service.mapping(ident) is None:
        raise MappingNotFound(f"The resource you requested does not exist. (Service: Lambda, Status Code: 404, UUID: {ident})")
    changes: dict[str, Any] = {}
    if "Enabled" in body:
        changes["enabled"] = bool(body["Enabled"])
    if "BatchSize" in body:
        size = body["BatchSize"]
        if not isinstance(size, int) or size < 1 or size > 10_000:
            raise InvalidParameterValue(f"BatchSize must be between 1 and 10000, got {size!r}")
        changes["batch_size"] = size
    if "MaximumBatchingWindowInSeconds" in body:
        changes["window_s"] = float(body["MaximumBatchingWindowInSeconds"])
    mapping = service.update_mapping(ident, changes)
    assert mapping is not None
    return describe(fleet, service, mapping)


def describe(fleet: Fleet, service: TriggerService | None, mapping: QueueMapping | StreamMapping) -> dict[str, Any]:
    stats = service.stats_of(mapping.uuid) if service else None
    body: dict[str, Any] = {
        "UUID": mapping.uuid,
        "BatchSize": mapping.batch_size,
        "MaximumBatchingWindowInSeconds": int(mapping.window_s),
        "EventSourceArn": mapping.source_arn,
        "FunctionArn": fleet.function_arn(mapping.function),
        "LastModified": time.time(),
        "LastProcessingResult": stats.last_result if stats else "No records processed",
        "State": str(MappingState.ENABLED if mapping.enabled else MappingState.DISABLED),
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": ["ReportBatchItemFailures"] if mapping.report_failures else [],
    }
    if mapping.filter.patterns:
        import json

        body["FilterCriteria"] = {"Filters": [{"Pattern": json.dumps(p)} for p in mapping.filter.patterns]}
    if isinstance(mapping, QueueMapping):
        body["ScalingConfig"] = {"MaximumConcurrency": mapping.max_concurrency}
    else:
        body |= {"StartingPosition": mapping.starting_position, "ParallelizationFactor": mapping.parallelization,
                 "BisectBatchOnFunctionError": mapping.bisect_on_error, "MaximumRetryAttempts": mapping.max_retries,
                 "MaximumRecordAgeInSeconds": mapping.max_record_age_s,
                 "DestinationConfig": {"OnFailure": {"Destination": mapping.on_failure}} if mapping.on_failure else {"OnFailure": {}}}
        if mapping.starting_timestamp is not None:
            body["StartingPositionTimestamp"] = mapping.starting_timestamp
    return body


def _service(fleet: Fleet) -> TriggerService | None:
    return trigger_service(fleet)
