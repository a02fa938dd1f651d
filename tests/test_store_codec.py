"""How the store packs records, logs and traces (runtime/store/codec.py): exact round trips, and blobs that stay readable."""

from __future__ import annotations

import hashlib

import pytest

from lambdatop.runtime.records import InvocationRecord, InvocationStatus
from lambdatop.runtime.store import codec


def record(**changes: object) -> InvocationRecord:
    base = InvocationRecord(request_id="9b1de2c4-0f0e-4d8a-8e3a-2c6f0c1d2e3f", function="hello", version="$LATEST",
                            code_version="v3", trigger="http", invocation_type="RequestResponse", started_at=1796193044.7251484,
                            duration_ms=0.0087, billed_duration_ms=1, max_memory_used_mb=14, env_id="hello-2", pid=4242,
                            trace_id="1-6b0fbb14-d0698b9f4fc8d6ae6c6c42cd", segment_id="30e3a4ba5fe41b97",
                            ended_at=1796193044.725506)
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def test_the_dictionaries_never_change() -> None:
    """Rows written with these dictionaries must stay readable: a change needs a new tag, not an edit."""
    assert hashlib.sha256(codec.BODY_DICTIONARY).hexdigest() == "f18038be8e29a350c912e15f23b0d45901d4911020f46d4a94bbb39bda924b6b"
    assert hashlib.sha256(codec.TRACE_DICTIONARY).hexdigest() == "3f7a26770d7cb1ea48178f6e56fcf565ecb64ff1469625db25dfead5e7caa9b9"


@pytest.mark.parametrize("changes", [
    {},
    {"status": InvocationStatus.TIMEOUT, "error_type": "Sandbox.Timedout", "error_message": "Task timed out after 3.00 seconds"},
    {"cold_start": True, "init_duration_ms": 141.07, "init_started_at": 1796193044.6, "duration_ms": 0},  # an int stays an int
    {"route": "GET /hello (ServerlessRestApi)", "queued_at": 1796193044.0, "source_arn": "arn:aws:sqs:us-east-1:1:q"},
], ids=["warm", "timeout", "cold", "routed"])
def test_a_record_and_its_log_come_back_exactly(changes: dict[str, object]) -> None:
    original = record(**changes)
    log = ["START RequestId: x Version: $LATEST", "hello ünïcode\tand a tab", "", "END RequestId: x"]
    back, lines = codec.unpack_body(codec.pack_body(original, log))
    assert back == original and back.to_dict() == original.to_dict() and lines == log
    assert type(back.duration_ms) is type(original.duration_ms) and isinstance(back.status, InvocationStatus)


def test_a_warm_no_op_record_and_log_pack_small() -> None:
    rid = record().request_id
    log = [f"START RequestId: {rid} Version: $LATEST", f"END RequestId: {rid}",
           f"REPORT RequestId: {rid}\tDuration: 0.01 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 14 MB\t"]
    assert len(codec.pack_body(record(), log)) < 250  # 2.6 KB of JSON before (record, log and trace)


def test_a_trace_comes_back_exactly_and_values_msgpack_cannot_hold_fall_back_to_json() -> None:
    trace = {"trace_id": "1-abc", "documents": [{"id": "a", "start_time": 1.5, "subsegments": [], "error": False}]}
    assert codec.unpack_trace(codec.pack_trace(trace)) == trace
    huge = {"n": 2**70}
    blob = codec.pack_trace(huge)
    assert blob[0] == codec.JSON_DEFLATE and codec.unpack_trace(blob) == huge


def test_a_blob_from_a_newer_lambdatop_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown packing 9"):
        codec.unpack_trace(b"\x09anything")


def test_fields_a_newer_lambdatop_added_are_dropped_on_reading() -> None:
    fields = codec.record_fields(record()) | {"from_the_future": 1}
    assert codec.record_from_fields(fields) == record()


def test_request_keys_are_stable_64_bit_numbers() -> None:
    """Stored rows are found by this key: the function must never change."""
    key = codec.request_key("9b1de2c4-0f0e-4d8a-8e3a-2c6f0c1d2e3f")
    assert key == -4651813479258851248
    assert key != codec.request_key("9b1de2c4-0f0e-4d8a-8e3a-2c6f0c1d2e40")
