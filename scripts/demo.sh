#!/usr/bin/env bash
# The demo command: installs what is missing, builds, and starts centricd (all services
# in one process, SQLite under ./.centric/) on 127.0.0.1:50051 with a short demo that
# creates a few profiles and prints them. centricd keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh --target centricd
exec ./build/bin/centricd --demo --listen="${CENTRIC_LISTEN:-127.0.0.1:50051}" "$@"
