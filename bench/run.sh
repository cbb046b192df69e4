#!/usr/bin/env bash
# `make bench`: prepares everything the benchmarks need, then runs them all and writes
# BENCHMARKS.md (repo root) and the raw JSON (bench/results/).
#
#   bash bench/run.sh [bench/run.py options]     e.g. --reps 5, --only python,rust
#   bash bench/run.sh --smoke                    tiny workloads, our variants + floor only
#
# 1. .venv-bench at the repo root, from bench/requirements.txt (PyPI), reinstalled when
#    that file changes;
# 2. our Python module built as a release wheel and installed into .venv-bench (a wheel,
#    not `maturin develop`: an editable install shares python/genkit_azure_rs/_native.abi3.so
#    with the test venv, whose debug `maturin develop` would silently replace it);
# 3. bench/run.py builds the release emulator, libgenkit_azure.so, the Rust host and the
#    C host, then runs every workload.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PYTHON="${PYTHON:-python3}"
VENV="$REPO/.venv-bench"
REQS="$REPO/bench/requirements.txt"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
WHEELS="$TARGET_DIR/bench-wheels"

stamp="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "bench: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
# Keeps git from listing the venv (Python < 3.13 does not write this itself).
[[ -f "$VENV/.gitignore" ]] || echo '*' > "$VENV/.gitignore"
if [[ "$(cat "$VENV/.bench-requirements" 2>/dev/null)" != "$stamp" ]]; then
    echo "bench: installing bench/requirements.txt into .venv-bench"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet -r "$REQS"
    echo "$stamp" > "$VENV/.bench-requirements"
fi

echo "bench: building the genkit_azure_rs release wheel"
rm -rf "$WHEELS"
VIRTUAL_ENV="$VENV" "$VENV/bin/maturin" build --quiet --release -m python/Cargo.toml --out "$WHEELS"
"$VENV/bin/pip" install --quiet --no-deps --force-reinstall "$WHEELS"/genkit_azure_rs-*.whl

exec "$VENV/bin/python" "$REPO/bench/run.py" --python "$VENV/bin/python" "$@"
