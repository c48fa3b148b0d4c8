"""What acts on existing containers, and the read-only views.

* ``targets``    which containers a verb's SERVICE arguments name
* ``lifecycle``  start, stop, restart, kill (through the host interface and the supervisor)
* ``execute``    exec into a running container
* ``logs``       logs, with ``-f`` following rotations
* ``views``      ps, ls, port, network ls, top: read the store and the host, change nothing

Verbs receive a ``ProjectLayout`` and a ``Host``; none builds a host of its own.
"""
