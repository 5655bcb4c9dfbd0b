#!/usr/bin/env bash
# The demo command: installs what is missing, builds, and starts centricd (all services
# in one process, SQLite under ./.centric/) on 127.0.0.1:50051 with a demo that loads a
# generated population (libs/demo: 200 customers in four personas, a year of purchases,
# support tickets and NPS answers) and prints a few. centricd keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh --target centricd centricctl
exec ./build/bin/centricd --demo --insecure --listen="${CENTRIC_LISTEN:-127.0.0.1:50051}" "$@"
