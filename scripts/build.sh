#!/usr/bin/env bash
# Configures and builds everything into build/ (binaries in build/bin, tests in
# build/tests). Uses ccache and Ninja when present; two jobs by default.
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCENTRIC_WERROR=ON
fi
cmake --build build -j "${CENTRIC_JOBS:-2}" "$@"
