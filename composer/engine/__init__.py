"""One run of ``up`` or ``down``: observe, reconcile, plan, execute.

Flow::

    prepare (project -> DesiredState)    observe (store + host -> ObservedState)
                      \\                 /
                       reconcile (pure) -> Plan (an immutable DAG of actions)
                                         -> Executor: Applier -> Host

``run`` plans a one-off container through the same flow (as a service of its
own in a copy of the project); ``remove`` is ``down`` narrowed to chosen
containers (``rm``, ``run --rm``).

Only ``hosts`` touches the host; ``hosts.base`` is the interface, ``hosts.real``
the kernel and ``hosts.fake`` an in-memory stand-in for tests.
"""
