"""The worker side: code that runs in the zygote and in the execution environments it forks.

    supervisor (asyncio loop)            zygote (one, single-threaded)          environment (one per worker)
    ───────────────────────────          ─────────────────────────────          ────────────────────────────
    execution.spawner ── control ──────► fork a worker / keep a spare ───fork──► bootstrap.Worker
          ▲    socketpair (wire frames)    reap children, report exits            Init: import the handler
          │                                                                       serve: one invoke at a time
    execution.environment ◄──────────── worker socket (wire frames) ───────────► result, logs (memfd), stats

A cold start writes the spec and the first request straight down the spare's
worker socket; the zygote only forks, reaps and reports exit statuses.

May import: nothing else of `lambdatop.runtime` (a test enforces it): the zygote
imports this package before any fork, so it must stay small and must never
load the supervisor's modules.
"""
