#!/usr/bin/env bash
# Install backforge into .venv and run the main job on an example spec with SQLite:
#   scripts/run-example.sh [SPEC] [OUTPUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${1:-examples/bookstore.yaml}
out=${2:-out/$(basename "$spec" .yaml)}
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
rm -rf "$out"
exec .venv/bin/backforge new "$spec" -o "$out"
