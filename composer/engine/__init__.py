"""One run of ``up`` or ``down``: observe, reconcile, plan, execute.

Flow::

    prepare (project -> DesiredState)    observe (store + host -> ObservedState)
                      \\                 /
                       reconcile (pure) -> Plan (an immutable DAG of actions)
                                         -> Executor: Applier -> Host

Only ``hosts`` touches the host; ``hosts.base`` is the interface, ``hosts.real``
the kernel and ``hosts.fake`` an in-memory stand-in for tests.
"""
