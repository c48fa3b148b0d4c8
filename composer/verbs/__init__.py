"""Verbs on existing containers (start, stop, kill, exec, logs) and read-only views (ps, ls, port, top)."""
