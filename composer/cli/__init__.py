"""The command line: one module per verb, each parsing options, calling the engine or a verb, and rendering.

Only this package prints or exits.  Verb modules are imported when the app is
built, but each one imports the heavy parts it needs (networkx, pyroute2, httpx)
inside its function so that ``composer config -q`` stays fast.
"""
