"""How the store packs an invocation's record, log lines and trace: msgpack, deflated against a fixed dictionary.

A no-op invocation's record, log and trace were 2.6 KB of JSON, most of it
the same field names and log words in every row. Each blob here is msgpack
(smaller than JSON and faster to write), then raw deflate primed with a
dictionary of typical content, so what repeats across rows costs a few bits
and only what is new in this row (ids, times, the handler's own output) takes
space: about 180 bytes for a no-op's record and its log, 250 for its trace.

A blob's first byte says how it was packed. The dictionaries below belong to
their tag forever (rows written with them must stay readable): to change
one, add a new tag and keep the old one for reading. tests/test_store_codec.py
pins their digests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zlib
from typing import Any

import msgpack

from lambdatop.runtime.records import InvocationRecord, InvocationStatus

MSGPACK_DEFLATE = 1  # msgpack, raw deflate with the tag's dictionary
JSON_DEFLATE = 2  # JSON text, raw deflate, no dictionary: values msgpack cannot hold (integers past 64 bits)

_WBITS = -12  # raw deflate, 4 KB window: each dictionary below fits in it, and a small window is fast to set up
_LEVEL = 1  # for blobs of ~1 KB, level 6 saves ~3 % of the bytes for ~25 % more deflating time (measured)
_MEMLEVEL = 6

_RECORD_FIELDS = tuple(field.name for field in dataclasses.fields(InvocationRecord))
# Fields left out of a packed record when they hold their default (most of them, most of the time).
_DEFAULTS = {field.name: field.default for field in dataclasses.fields(InvocationRecord) if field.default is not dataclasses.MISSING}


def _sample_record() -> dict[str, Any]:
    return {
        "request_id": "5f0e2b7a-9c41-4d3e-8a6b-1c2d3e4f5a6b", "function": "hello", "version": "$LATEST",
        "code_version": "v1", "trigger": "http", "invocation_type": "RequestResponse", "started_at": 1796193044.7251484,
        "status": "error", "cold_start": True, "init_duration_ms": 141.07, "duration_ms": 0.0087,
        "billed_duration_ms": 1, "memory_size_mb": 128, "max_memory_used_mb": 14, "error_type": "Runtime.ExitError",
        "error_message": "RequestId: 5f0e2b7a Error: Runtime exited with error: exit status 1", "env_id": "hello-1",
        "pid": 7220, "trace_id": "1-6b0fbb14-d0698b9f4fc8d6ae6c6c42cd", "segment_id": "30e3a4ba5fe41b97",
        "parent_id": "fa54919adb45863c", "queued_at": 1796193044.7, "source_arn": "arn:aws:sqs:us-east-1:123456789012:queue",
        "ended_at": 1796193044.725506, "init_started_at": 1796193044.71, "invoke_started_at": 1796193044.7252903,
        "invoke_ended_at": 1796193044.7252994, "init_ended_at": 1796193044.72, "route": "GET /hello (ServerlessRestApi)",
        "init_suppressed": True,
    }


def _sample_log() -> list[str]:
    rid = "5f0e2b7a-9c41-4d3e-8a6b-1c2d3e4f5a6b"
    return [
        "INIT_START Runtime Version: python:3.12.v7\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:42e2a548ab",
        f"START RequestId: {rid} Version: $LATEST",
        "[ERROR] Runtime.ExitError: Traceback (most recent call last):\n  File \"/var/task/app.py\", line 3, in handler",
        f"END RequestId: {rid}",
        f"REPORT RequestId: {rid}\tDuration: 0.01 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 14 MB\t"
        "Init Duration: 141.07 ms\tStatus: error\tError Type: Runtime.ExitError",
        "\nXRAY TraceId: 1-6b0fbb14-d0698b9f4fc8d6ae6c6c42cd\tSegmentId: 30e3a4ba5fe41b97\tSampled: true\t",
        f"REPORT RequestId: {rid}\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 14 MB\t",
    ]


def _sample_trace() -> dict[str, Any]:
    trace_id, rid = "1-6b0fbb14-d0698b9f4fc8d6ae6c6c42cd", "5f0e2b7a-9c41-4d3e-8a6b-1c2d3e4f5a6b"
    arn = "arn:aws:lambda:us-east-1:123456789012:function:hello"
    service = {
        "id": "fa54919adb45863c", "name": "hello", "trace_id": trace_id, "start_time": 1796193044.7251484,
        "end_time": 1796193044.725506, "origin": "AWS::Lambda", "http": {"response": {"status": 200}},
        "aws": {"request_id": rid, "invocation_type": "RequestResponse", "attempts": 1},
        "annotations": {"trigger": "http"}, "resource_arn": arn,
    }
    function = {
        "id": "30e3a4ba5fe41b97", "name": "hello", "trace_id": trace_id, "parent_id": "fa54919adb45863c",
        "start_time": 1796193044.7252903, "end_time": 1796193044.725506, "origin": "AWS::Lambda::Function",
        "aws": {"request_id": rid, "function_version": "$LATEST"}, "annotations": {"cold_start": False},
        "metadata": {"lambdatop": {"status": "success", "env_id": "hello-1", "pid": 7220, "duration_ms": 0.01,
                                   "billed_duration_ms": 1, "init_duration_ms": None, "memory_size_mb": 128,
                                   "max_memory_used_mb": 14, "code_version": "v1", "trigger": "http"}},
        "subsegments": [
            {"id": "6f26650ab1e3f0ba", "name": "Initialization", "start_time": 1796193044.71, "end_time": 1796193044.72},
            {"id": "6f26650ab1e3f0bb", "name": "Invocation", "start_time": 1796193044.7252903, "end_time": 1796193044.7252994},
            {"id": "d8b68cdfc1b77691", "name": "Overhead", "start_time": 1796193044.7252994, "end_time": 1796193044.725506},
        ],
        "resource_arn": arn, "error": True, "fault": True, "cause": {"exceptions": [{"message": "", "type": ""}]},
    }
    return {"trace_id": trace_id, "request_id": rid, "documents": [service, function]}


def _warm_record() -> dict[str, Any]:
    # The common row: a warm success, its default fields left out as `record_fields` leaves them out.
    unusual = ("status", "cold_start", "init_duration_ms", "error_type", "error_message", "parent_id", "queued_at",
               "source_arn", "init_started_at", "init_ended_at", "route", "init_suppressed")
    return {key: value for key, value in _sample_record().items() if key not in unusual}




_PRIMED: dict[bytes, Any] = {}  # a compressor per dictionary, the dictionary already loaded: each blob starts from a copy


def _deflate(data: bytes, dictionary: bytes | None) -> bytes:
    if dictionary is None:
        packer = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS, _MEMLEVEL)
    else:
        primed = _PRIMED.get(dictionary)
        if primed is None:
            primed = _PRIMED[dictionary] = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS, _MEMLEVEL, zlib.Z_DEFAULT_STRATEGY, dictionary)
        packer = primed.copy()
    return packer.compress(data) + packer.flush()


def _inflate(data: bytes | memoryview, dictionary: bytes | None) -> bytes:
    unpacker = zlib.decompressobj(_WBITS) if dictionary is None else zlib.decompressobj(_WBITS, dictionary)
    return unpacker.decompress(data) + unpacker.flush()


def snapshot(*objects: Any) -> tuple[int, bytes]:
    """The values as bytes now (cheap: msgpack), to be deflated later by `seal` (in the writer, off the loop)."""
    try:
        return MSGPACK_DEFLATE, b"".join(msgpack.packb(value) for value in objects)
    except (OverflowError, TypeError, ValueError):
        return JSON_DEFLATE, json.dumps(list(objects)).encode()


def seal(packed: tuple[int, bytes], kind: str) -> bytes:
    """A snapshot as the blob the store keeps: its tag, then the deflated bytes."""
    tag, data = packed
    return bytes((tag,)) + _deflate(data, _DICTIONARIES[kind] if tag == MSGPACK_DEFLATE else None)


def _pack(objects: tuple[Any, ...], kind: str) -> bytes:
    return seal(snapshot(*objects), kind)


def _unpack(blob: bytes, kind: str) -> list[Any]:
    tag, rest = blob[0], memoryview(blob)[1:]
    if tag == MSGPACK_DEFLATE:
        return list(_stream(_inflate(rest, _DICTIONARIES[kind])))
    if tag == JSON_DEFLATE:
        return list(json.loads(_inflate(rest, None)))
    raise ValueError(f"unknown packing {tag} (written by a newer lambdatop?)")


def _stream(data: bytes) -> Any:
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=max(len(data), 1024))
    unpacker.feed(data)
    return unpacker


def record_fields(record: InvocationRecord) -> dict[str, Any]:
    """The record as a dict of the fields that differ from their defaults (the status as its string)."""
    data: dict[str, Any] = {}
    for name in _RECORD_FIELDS:
        value = getattr(record, name)
        if name in _DEFAULTS and value == _DEFAULTS[name] and type(value) is type(_DEFAULTS[name]):
            continue
        data[name] = str(value) if name == "status" else value
    return data


def record_from_fields(data: dict[str, Any]) -> InvocationRecord:
    """Back from `record_fields` (or a whole record's dict): unknown fields, from a newer lambdatop, are dropped."""
    known = {k: v for k, v in data.items() if k in _RECORD_FIELDS}
    known["status"] = InvocationStatus(known.get("status", "success"))
    return InvocationRecord(**known)


def _packed_fields(sample: dict[str, Any]) -> bytes:
    return msgpack.packb(record_fields(record_from_fields(sample)))  # in the order and form rows have


# The end of a dictionary is the cheapest to refer to: the common case goes last.
BODY_DICTIONARY = msgpack.packb(_sample_log()) + _packed_fields(_sample_record()) + _packed_fields(_warm_record())
TRACE_DICTIONARY = msgpack.packb(_sample_trace())
_DICTIONARIES = {"body": BODY_DICTIONARY, "trace": TRACE_DICTIONARY}


def pack_body(record: InvocationRecord, log_lines: list[str]) -> bytes:
    """An invocation's record and log lines as one blob."""
    return _pack((record_fields(record), list(log_lines)), "body")


def unpack_body(blob: bytes) -> tuple[InvocationRecord, list[str]]:
    fields, log_lines = _unpack(blob, "body")
    return record_from_fields(fields), log_lines


def pack_trace(trace: Any) -> bytes:
    """A trace (any JSON-able value) as a blob (`seal(snapshot(trace), "trace")`)."""
    return _pack((trace,), "trace")


def unpack_trace(blob: bytes) -> Any:
    return _unpack(blob, "trace")[0]


def request_key(request_id: str) -> int:
    """The indexed stand-in for a request id: 64 bits of its hash (8 bytes in the index instead of 36).

    Two ids can share a key; readers compare the record's own request id.
    """
    return int.from_bytes(hashlib.blake2b(request_id.encode(), digest_size=8).digest(), "big", signed=True)
