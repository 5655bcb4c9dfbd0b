#!/usr/bin/env bash
# The one test command: installs what is missing, builds, and runs every test (unit,
# integration against real PostgreSQL and Redis started by the tests, end-to-end
# against the real binaries). Extra arguments go to ctest, e.g. -L integration or
# -R Profiles.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
cd build
ctest --output-on-failure --timeout 600 -j "${CENTRIC_TEST_JOBS:-2}" "$@"
