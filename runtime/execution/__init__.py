"""Running invocations: the invoker, the concurrency gate, the pools, the execution environments and the spawner.

    Invoker ──► ConcurrencyGate ──► FunctionPool ──► ExecutionEnvironment ──► WorkerChannel ──► worker process
    validate,   account + reserved   idle warm envs    one invocation at a     its socket:        (runtime/worker/)
    record      limits; throttle     LIFO; cold start  time; states in         checked messages
                                     via the spawner   lifecycle.py, freeze

A runtime that is a program of its own (runtimes.py: provided*, nodejs*, `python_runtime: ric`) is
exec'd by the zygote and speaks the Runtime API; runtime_channel.py turns that conversation into
the worker's messages, so everything above the channel is the same for both kinds.

A SnapStart version's pool forks from its snapshot instead of the zygote (snapstart.py: a
Spawner of its own, whose cold starts are restores).

housekeeping.py enforces the limits (Init, timeout, memory, idle); invocation_log.py
writes an invocation's platform log lines; requests.py checks a payload as Lambda does and makes
the record an invocation starts with.

May import: config, worker (only to start the zygote and speak its wire), and
the shared vocabulary at the top of the runtime (records, errors, identifiers,
logformat, bus).
"""
