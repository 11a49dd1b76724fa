#!/usr/bin/env bash
# Install backforge with its test tools into .venv and run the whole test suite, including the
# end-to-end runs of `backforge new` on SQLite and on the PostgreSQL server at 127.0.0.1:5432.
# The tests run in TEST_WORKERS processes (default: one more than the cores, at most 4, since the
# end-to-end tests spend part of their time waiting on servers and databases; 0 runs them in
# this one), the end-to-end ones first (tests/conftest.py).
#   scripts/test.sh [PYTEST_ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
# The JSON Schema of AsyncAPI 3.0, which tests/test_feed_generate.py validates generated
# asyncapi.json documents against, as the AsyncAPI initiative publishes it.
[ -d .cache/asyncapi/node_modules/@asyncapi/specs ] ||
  npm install --silent --no-audit --no-fund --prefix .cache/asyncapi @asyncapi/specs@6.11.1
cores=$(nproc)
workers=${TEST_WORKERS:-$((cores < 4 ? cores + 1 : 4))}
exec .venv/bin/python -m pytest -n "$workers" --dist worksteal "$@"
