"""The state root on disk: paths, the write-ahead journal with typed records, locks, container folders."""
