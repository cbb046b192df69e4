# genkit-azure: `make demo` and `make test` are all a fresh machine needs.
# Python dependencies go into .venv (created here from PyPI); Rust builds share
# one target/ directory so every step is incremental.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
CARGO ?= cargo
export VIRTUAL_ENV := $(abspath $(VENV))

.PHONY: all build venv python-dev test test-rust test-python test-bench test-fuzz fuzz typecheck demo sample header readme bless bench lint install

all: build

## Rust artefacts the tests and the demo run: the emulator binary and libgenkit_azure.so.
build:
	$(CARGO) build -p genkit-azure-emulator -p genkit-azure-ffi

## The Python environment (genkit, maturin, pytest), installed from PyPI.
venv: $(VENV)/.installed
$(VENV)/.installed: tests/python/requirements.txt tests/python/requirements-nodeps.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r tests/python/requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -r tests/python/requirements-nodeps.txt
	touch $@

## Builds the PyO3 module into .venv.
python-dev: venv
	$(VENV)/bin/maturin develop --quiet -m python/Cargo.toml

test-rust: build
	$(CARGO) test --workspace --exclude genkit-azure-python

test-python: build python-dev
	$(PY) -m pytest tests/python -q

## The Python package and its stubs under mypy --strict (the stubs are what users type-check against).
typecheck: venv
	$(VENV)/bin/mypy --strict python/genkit_azure_rs

## The benchmark harness on a tiny workload, so it cannot rot (no timing is asserted).
test-bench: build python-dev
	$(PY) bench/run.py --smoke

## The fuzz targets (fuzz/: connection string, attribute conversion, our DEFLATE encoder, the Live
## Metrics configuration, the worker's Genkit step, the C structs and config), each for a few
## seconds: built on the stable toolchain with libFuzzer's coverage into target/fuzz.
FUZZ_TEST_SECONDS ?= 10
test-fuzz:
	FUZZ_SCRATCH=1 fuzz/run.sh $(FUZZ_TEST_SECONDS)

## The same targets for longer (FUZZ_SECONDS each, 10 minutes by default); new inputs are kept
## in target/fuzz/corpus, a crash's input in target/fuzz/artifacts.
FUZZ_SECONDS ?= 600
fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

## Every test: Rust unit and integration tests, the C programs, the header and README checks,
## the fuzz targets briefly, Python with a real Genkit, the Python package's types, and the
## azure-hello sample.
test: test-bench test-rust test-fuzz test-python typecheck sample

## Runs a small Genkit app against the local emulator and prints what arrived.
demo: build python-dev
	$(PY) tests/demo/run_demo.py

## Runs samples/azure-hello (FastAPI + Genkit) against the local emulator, calls it over HTTP
## and prints what arrived: the operation trees and the Application Map.
sample: build python-dev
	$(PY) samples/azure-hello/run_sample.py

## Side-by-side benchmarks (ours, the official distro, the bare crate); writes BENCHMARKS.md.
bench:
	bash bench/run.sh

## Installs the C library (release build), its header and genkit_azure.pc under PREFIX
## (DESTDIR honoured): cc app.c $(pkg-config --cflags --libs genkit_azure).
PREFIX ?= /usr/local
install:
	$(CARGO) build --release -p genkit-azure-ffi
	sh ffi/install.sh target/release $(PREFIX)

## Regenerates include/genkit_azure.h from the ffi crate.
header:
	GENKIT_AZURE_BLESS_HEADER=1 $(CARGO) test -p genkit-azure-ffi --test header

## Regenerates README.md's configuration table from core/src/config/settings.rs.
readme:
	GENKIT_AZURE_BLESS_README=1 $(CARGO) test -p genkit-azure --test settings readme

## Everything generated and committed: the header and the README's table.
bless: header readme

lint:
	$(CARGO) clippy --workspace --exclude genkit-azure-python --all-targets
