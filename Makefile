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
# A first install fetches about 150 MB, and nothing pulls PyTorch or CUDA. The packages are installed by uv (from
# PyPI, pinned), which resolves, unpacks and compiles them in parallel: the same packages and versions as pip,
# compiled to bytecode as pip does, in under half pip's CPU time (README, Measurements). uv lives in ./.uv, beside
# the venv rather than in it, as bqa does not need it to run. It prints what it resolves, downloads and installs.
UV_VERSION := 0.13.9
UV_DIR := .uv
UV := $(UV_DIR)/bin/uv

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

$(UV):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check --target $(UV_DIR) uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml $(UV)
	$(UV) pip install --python $(BIN)/python --compile-bytecode -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(UV) pip install --python $(BIN)/python --compile-bytecode -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) $(UV_DIR) data
