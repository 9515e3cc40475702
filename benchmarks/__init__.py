"""Benchmarks for altup-t5x (run as modules, e.g. `python -m benchmarks.altup_cost`)."""
