"""The project supervisor: one process per project that runs and watches its containers.

* :mod:`~composer.supervisor.protocol`: the typed requests and replies on its socket;
* :mod:`~composer.supervisor.policy`: restart, back-off and health rules as pure functions;
* :mod:`~composer.supervisor.server`: the process (an event loop) that applies them;
* :mod:`~composer.supervisor.client`: :class:`SupervisorClient`, what commands use to reach it;
* ``python -m composer.supervisor PROJECT_DIR`` runs the server.
"""
