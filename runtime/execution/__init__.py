"""Running invocations: the invoker, the concurrency gate, the pools, the execution environments and the spawner.

    Invoker ──► ConcurrencyGate ──► FunctionPool ──► ExecutionEnvironment ──► WorkerChannel ──► worker process
    validate,   account + reserved   idle warm envs    one invocation at a     its socket:        (runtime/worker/)
    record      limits; throttle     LIFO; cold start  time; states in         checked messages
                                     via the spawner   lifecycle.py, freeze

housekeeping.py enforces the limits (Init, timeout, memory, idle); invocation_log.py
writes an invocation's platform log lines.

May import: config, worker (only to start the zygote and speak its wire), and
the shared vocabulary at the top of the runtime (records, errors, identifiers,
logformat, bus).
"""
