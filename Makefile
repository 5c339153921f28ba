# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	test -f var/demo-package/manifest.json || $(BIN)/dthub demo --out var/demo-package
	$(BIN)/dthub import var/demo-package --report var/demo-import-report.json
	$(BIN)/dthub clients demo --keys-dir var/demo-keys
	$(BIN)/dthub serve --port $${DTHUB_PORT:-8080}

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/read_throughput.py

clean:
	rm -rf $(VENV) var .pytest_cache
