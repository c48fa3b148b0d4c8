"""What acts on existing containers, and the read-only views.

* ``targets``    which containers a verb's SERVICE arguments name
* ``lifecycle``  start, stop, restart, kill, pause, unpause (through the host interface and the supervisor)
* ``execute``    exec into a running container
* ``logs``       logs, with ``-f`` following rotations, ``--since``/``--until``/``--index``
* ``run``        following a one-off container (made by ``composer.engine.run``) until it exits
* ``remove``     which containers ``rm`` removes (the removal is ``composer.engine.remove``)
* ``attach``     up in the foreground: what it shows, when it aborts, its exit status
* ``wait``       waiting for containers to stop
* ``cp``         which side of a copy is the container's
* ``stats``      CPU, memory, network, block I/O and pids rows from two readings
* ``events``     the differences between two readings of a project, as events
* ``views``      ps, ls, port, network ls, top, volumes: read the store and the host, change nothing

Verbs receive a ``ProjectLayout`` and a ``Host``; none builds a host of its own.
"""
