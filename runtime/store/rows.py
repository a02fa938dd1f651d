"""The writer's memory of the rows it wrote: each invocation's seq, assigned in the transaction, by segment id.

With it a result that comes twice (the async queue writes its attempts, and
the bus brings the same results again) is stored once without a unique index,
and a trace that comes a second after its invocation finds the row by its key
(seq) instead of by an index on segment ids. Only the writer thread uses it.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict

from lambdatop.runtime.store import codec


class RowIds:
    """Seqs handed out in the open transaction, and those of the last `capacity` committed rows."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._recent: OrderedDict[str, int] = OrderedDict()  # segment id -> seq, committed
        self._staged: dict[str, int] = {}  # segment id -> seq, in the open transaction
        self._next = 1
        self.added = 0  # rows claimed in the open transaction

    def begin(self, conn: sqlite3.Connection) -> None:
        """At the start of a write transaction (the write lock held: no other process adds rows meanwhile)."""
        self._staged.clear()
        self.added = 0
        self._next = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM invocations").fetchone()[0]

    def claim(self, segment_id: str | None) -> int | None:
        """The seq of a new row, or None when this invocation is already written (or being written)."""
        if segment_id is not None:
            if segment_id in self._staged or segment_id in self._recent:
                return None
            self._staged[segment_id] = self._next
        seq, self._next = self._next, self._next + 1
        self.added += 1
        return seq

    def committed(self) -> None:
        self._recent.update(self._staged)
        while len(self._recent) > self.capacity:
            self._recent.popitem(last=False)
        self._staged.clear()

    def rolled_back(self) -> None:
        self._staged.clear()
        self.added = 0

    def seq_for(self, conn: sqlite3.Connection, segment_id: str | None, request_id: str | None,
                trace_request_id: str | None) -> int | None:
        """The row of an invocation, by segment id (remembered) or request id (the index); None if not written yet."""
        if segment_id is not None:
            seq = self._staged.get(segment_id) or self._recent.get(segment_id)
            if seq is not None or trace_request_id is None:
                return seq
        key = request_id if request_id is not None else trace_request_id
        assert key is not None
        found = None
        for seq, body in conn.execute("SELECT seq, body FROM invocations WHERE request_key = ? ORDER BY seq", (codec.request_key(key),)):
            record, _ = codec.unpack_body(body)
            if record.request_id == key and (request_id is not None or record.segment_id == segment_id):
                found = seq
        return found
