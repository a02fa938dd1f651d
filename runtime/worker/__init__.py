"""The worker side: code that runs in the zygote and in the execution environments it forks.

|====== supervisor (asyncio loop) ======|===== zygote (one process) =====|===== a worker (one per environment) =====|

 execution.spawner                       zygote.Zygote
   ── SpawnRequest (+ new socket) ─────►   fork ───────────────────────────►  runtime.serve (spec from the request)
   ── SpareTaken ──────────────────────►   fork the next spare ────────────►  spare.prepare_spare: rehearse, announce
   ◄── SpareReady (+ the spare's socket)   (control: SOCK_SEQPACKET)            and wait for a WorkerSpec
   ◄── ChildExited (pid, "signal: killed")  reap children

 execution.channel (one worker socket, SOCK_STREAM, length-prefixed frames)
   ── WorkerSpec (a spare's only) ─────────────────────────────────────────►  runtime.Worker.run: become the environment
   ◄── Started (pid, + the output memfd) ───────────────────────────────────  announce
   ── InvokeRequest (the first one rides along with the spec) ─────────────►  Init: import the handler
   ◄── InitDone (error, Init Duration, Init's output, memory, problem) ─────
   ◄── InvokeResult (body or error, Duration, output, memory) ──────────────  invoke: one request at a time
   (end of stream) ────────────────────────────────────────────────────────►  exit 0

A cold start writes the spec and the first request straight down the spare's
worker socket; the zygote only forks, reaps and reports exit statuses. Every
message is a named type in `messages.py`, framed by `wire.py` as msgpack:
data only, bounded, type-checked, because a worker runs the user's code and
can write anything on its socket.

Modules: `messages` (the schema), `wire` (framing), `zygote`, `spare` (before
a spare has its spec), `runtime` (the worker's Init and invoke loop), `snapstart`
(a SnapStart version's snapshot, a zygote of its own, and the restore of each of its environments),
`handler` (loading the handler, Lambda's error shapes), `logs` (the runtime's
logging handler and [ERROR] event, Text or JSON), `marshal` (events and results
as the runtime's simplejson writes them), `capture` (fd-level output capture),
`context` (the handler's context object), `exec_runtime` (a runtime that is a
program of its own: provided* `bootstrap`, `nodejs/bootstrap.mjs`, awslambdaric, exec'd after the
fork; it speaks the Runtime API, served by the supervisor's runtime/api/runtime_api.py).

May import: nothing else of `lambdatop.runtime` (a test enforces it): the zygote
imports this package before any fork, so it must stay small and must never
load the supervisor's modules.
"""
