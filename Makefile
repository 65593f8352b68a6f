# Two commands matter: `make run` and `make test`. Both create ./.venv and install bqa into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test bench clean

run: install
	$(BIN)/bqa serve --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/run.py

# A server gets the runtime dependencies only; the test tools (Playwright, pytest, …) come with `make test`.
# pip shows its progress: a first install fetches about 150 MB, and nothing pulls PyTorch or CUDA.
install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) data
