"""The project supervisor: one process per project that runs and watches its containers."""
