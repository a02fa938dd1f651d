"""Request, trace and segment ids: Lambda's and X-Ray's formats, unique, and not repeated by a forked child."""

from __future__ import annotations

import os
import re
import uuid

from lambdatop.runtime.identifiers import request_id, segment_id, trace_id


def test_request_ids_are_canonical_version_4_uuids_and_do_not_repeat() -> None:
    ids = [request_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:2_000]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_trace_and_segment_ids_have_x_rays_formats() -> None:
    assert re.fullmatch(r"1-6955b900-[0-9a-f]{24}", trace_id(1_767_225_600.0))
    assert re.fullmatch(r"[0-9a-f]{16}", segment_id())
    assert len({segment_id() for _ in range(10_000)}) == 10_000


def test_a_forked_child_does_not_draw_the_ids_its_parent_draws() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, " ".join(request_id() for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    parent = {request_id() for _ in range(3)}
    assert len(child) == 3 and not child & parent
