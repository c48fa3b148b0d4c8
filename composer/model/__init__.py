"""Pure values: what composer computes from the project file before it touches the host.

* ``ids``        ``ResourceId``: the one name of every resource (graph keys, state keys, plan lines)
* ``desired``    the desired state: networks, volumes, containers, links, resolved
* ``build``      ``build_desired()``: the project file and a few host facts -> the desired state
* ``container``  the container description the launcher runs (``ContainerConfig``)
* ``health``     healthchecks resolved to an argv and timings
* ``restart``    the restart policy, parsed once
* ``naming``     deterministic host names (bridges, veths, ifalias markers)
* ``ipam``       address planning
* ``netstate``   what a network namespace holds (links, addresses, routes) and how it differs
* ``units``      sizes, durations, rates and percentages as compose writes them
* ``codec``      the JSON form of the desired state (the no-op fast path stores it)

Nothing here reads the environment, the disk or the kernel: what the values
depend on is passed in.  Every layer may import these values, the kernel
included (the container description is the launcher's input).
"""
