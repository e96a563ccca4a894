# Two commands do all the set-up on a fresh machine: `make app` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(VENV)/.installed: requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt
	touch $@

# the optional scale extras (Ray, for build-cache --engine ray and its tests): `make test SCALE=1`
$(VENV)/.scale: requirements-scale.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-scale.txt
	touch $@

.PHONY: app test install
install: $(VENV)/.installed

app: $(VENV)/.installed
	$(BIN)/streamlit run app.py --server.headless true

test: $(VENV)/.installed $(if $(SCALE),$(VENV)/.scale)
	$(BIN)/python -m pytest -q
