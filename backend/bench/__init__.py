"""Benchmarks: timed runs of backend pieces on synthetic data (python -m backend.bench.<name>)."""
