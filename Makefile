# Two commands do all the set-up on a fresh machine: `make app` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(VENV)/.installed: requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt
	touch $@

.PHONY: app test install
install: $(VENV)/.installed

app: $(VENV)/.installed
	$(BIN)/streamlit run app.py --server.headless true

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q
