"""Engines turn (prompts, sampling parameters) into generations; the transformers engine is the default."""
