"""ttc-lab backend: tasks, model zoo, engines, strategies, verifiers, storage and analysis (no Streamlit here)."""
