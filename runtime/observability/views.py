"""Views of a trace for people: waterfall rows (`Span`, `flatten`) and a Chrome trace-event export.

What the dashboard's waterfall and `lambdatop traces export --format chrome`
draw from the X-Ray-shaped documents `tracing` builds (or the store holds).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any

from lambdatop.runtime.observability.tracing import FUNCTION_ORIGIN, SERVICE_ORIGIN, RequestTrace, Trace

__all__ = ["FUNCTION_ORIGIN", "SERVICE_ORIGIN", "RequestTrace", "Span", "Trace", "chrome_trace", "flatten"]


@dataclass(slots=True)
class Span:
    """One bar of a waterfall: a segment or subsegment, flattened with its depth."""

    id: str
    name: str
    start: float
    end: float
    depth: int
    kind: str  # "segment" or "subsegment"
    origin: str | None
    error: bool
    fault: bool
    throttle: bool
    annotations: dict[str, Any]
    metadata: dict[str, Any]
    cause: Any
    parent_id: str | None  # the row this one is drawn under (None for a root)
    in_progress: bool = False

    @property
    def duration_ms(self) -> float:
        return max(0.0, (self.end - self.start) * 1000.0)


def flatten(documents: list[dict[str, Any]]) -> list[Span]:
    """Segments and their subsegments depth-first, each level in start order: the waterfall's rows.

    A top-level segment whose parent is another segment (or subsegment) of the trace is drawn
    under it, as the X-Ray console draws a function under its service and a callee under its caller.
    """
    known: set[str] = set()

    def collect(doc: dict[str, Any]) -> None:
        known.add(str(doc.get("id", "")))
        for child in doc.get("subsegments") or ():
            collect(child)

    for doc in documents:
        collect(doc)
    attached: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    roots = []
    for doc in documents:
        parent = doc.get("parent_id")
        if parent and parent in known and parent != doc.get("id"):
            attached[parent].append(doc)
        else:
            roots.append(doc)
    spans: list[Span] = []
    seen: set[int] = set()

    def walk(doc: dict[str, Any], depth: int, kind: str, parent: str | None) -> None:
        if id(doc) in seen:  # a malformed trace with a parent cycle must not recurse forever
            return
        seen.add(id(doc))
        start = float(doc.get("start_time", 0.0))
        end = doc.get("end_time")
        doc_id = str(doc.get("id", ""))
        spans.append(Span(
            id=doc_id, name=str(doc.get("name", "?")), start=start,
            end=float(end) if end is not None else start, depth=depth, kind=kind, origin=doc.get("origin"),
            error=bool(doc.get("error")), fault=bool(doc.get("fault")), throttle=bool(doc.get("throttle")),
            annotations=dict(doc.get("annotations") or {}), metadata=dict(doc.get("metadata") or {}),
            cause=doc.get("cause"), parent_id=parent, in_progress=bool(doc.get("in_progress")),
        ))
        children = [(c, "subsegment") for c in doc.get("subsegments") or ()]
        children += [(c, "segment" if c.get("type") != "subsegment" else "subsegment") for c in attached.get(doc_id, ())]
        for child, child_kind in sorted(children, key=lambda item: item[0].get("start_time", 0.0)):
            walk(child, depth + 1, child_kind, doc_id)

    for root in sorted(roots, key=lambda d: d.get("start_time", 0.0)):
        walk(root, 0, "segment" if root.get("type") != "subsegment" else "subsegment", root.get("parent_id"))
    return spans


def chrome_trace(traces: list[dict[str, Any]]) -> dict[str, Any]:
    """Chrome trace-event JSON (Perfetto, chrome://tracing): one complete ("X") event per segment/subsegment.

    `traces` are X-Ray-shaped `{"Id", "Segments": [{"Document"}]}` (or `{"Id", "documents": [...]}`).
    Each trace is a process; each request's service and function segments are threads, so
    nested subsegments stack under their segment.
    """
    import json

    events: list[dict[str, Any]] = []
    for pid, trace in enumerate(traces, 1):
        docs = trace.get("documents") or [
            json.loads(s["Document"]) if isinstance(s.get("Document"), str) else s["Document"] for s in trace.get("Segments", [])
        ]
        events.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": f"trace {trace.get('Id')}"}})
        tids: dict[str, int] = {}
        threads = 0
        for span in flatten(docs):
            if span.kind == "segment" or span.parent_id not in tids:
                threads += 1
                tid = tids[span.id] = threads
                if span.kind == "segment":
                    events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                                   "args": {"name": f"{span.name} ({span.origin or 'segment'})"}})
            else:
                tid = tids[span.parent_id]
                tids[span.id] = tid
            args: dict[str, Any] = {"id": span.id}
            if span.annotations:
                args["annotations"] = span.annotations
            if span.metadata:
                args["metadata"] = span.metadata
            if span.error or span.fault or span.throttle:
                args["error"] = {"error": span.error, "fault": span.fault, "throttle": span.throttle, "cause": span.cause}
            events.append({
                "name": span.name, "cat": span.origin or span.kind, "ph": "X", "pid": pid, "tid": tid,
                "ts": round(span.start * 1_000_000, 3), "dur": round(max(span.end - span.start, 0.0) * 1_000_000, 3),
                "args": args,
            })
    return {"traceEvents": events, "displayTimeUnit": "ms"}
