"""Helpers shared by the test suites: fixtures built offline from the host's packages."""
