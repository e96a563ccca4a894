"""The old import path (``tests/conftest.py`` imports from here); the importers live in :mod:`backend.importers`."""
from backend.importers.gsm8k_published import VERIFIER_SAMPLES, import_generations

__all__ = ["VERIFIER_SAMPLES", "import_generations"]
