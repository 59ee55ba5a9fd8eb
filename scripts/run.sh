#!/usr/bin/env bash
# Set up, ingest the Python language reference into the default knowledge base, and serve the API.
# Then, in a second terminal: .venv/bin/keel chat
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/keel ingest --source python-reference
exec .venv/bin/keel serve
