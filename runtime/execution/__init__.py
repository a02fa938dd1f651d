"""Running invocations: the invoker, the concurrency gate, the pools, the execution environments and the spawner.

    Invoker ──► ConcurrencyGate ──► FunctionPool ──► ExecutionEnvironment ──► worker process
    validate,   account + reserved   idle warm envs    one invocation at a     (runtime/worker/)
    record      limits; throttle     LIFO; cold start  time; timeout, memory
                                     via the spawner   limit, freeze

May import: config, worker (only to start the zygote and speak its wire), and
the shared vocabulary at the top of the runtime (records, errors, identifiers,
logformat, bus).
"""
