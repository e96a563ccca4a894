"""Tasks: prompt generation or loading, formatting, answer/step parsing and exact checking."""
