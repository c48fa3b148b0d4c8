"""The state root on disk: paths, the write-ahead journal with typed records, locks, container folders.

* ``layout``     ``StateRoot`` and ``ProjectLayout``: the one place that builds a path under the root
* ``records``    one record dataclass per resource kind, with the versioned JSON codec of state.json
* ``journal``    ``ProjectStore``: intents written before the host is changed, done-marks after
* ``locks``      the per-project lock every changing command holds
* ``files``      atomic writes (write, fsync, rename)
* ``container``  a container's folder: what the supervisor runs (``SupervisedContainer``) and its status

Nothing here changes the host; the engine, the verbs and the supervisor read and
write through these types only, never by string keys.
"""
