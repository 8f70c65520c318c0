"""Benchmark of source-convert against the bundled Convert simulator (see README.md)."""
