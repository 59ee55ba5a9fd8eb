"""Benchmarks for Keel. Run each module with `python -m benchmarks.<name>` from the repository root."""
