"""Generations as data: append-only Parquet batches (writer) and an in-memory DuckDB over them (reader)."""
from backend.store.reader import Store
from backend.store.writer import commit_batch

__all__ = ["Store", "commit_batch"]
