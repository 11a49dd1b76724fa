#!/usr/bin/env bash
# Install backforge with its test tools into .venv and run the whole test suite, including the
# end-to-end runs of `backforge new` on SQLite and on the PostgreSQL server at 127.0.0.1:5432.
#   scripts/test.sh [PYTEST_ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
exec .venv/bin/python -m pytest "$@"
