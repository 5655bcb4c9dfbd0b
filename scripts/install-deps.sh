#!/usr/bin/env bash
# Installs every Debian bookworm package Centric needs to build, test and run.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libhiredis-dev libgtest-dev libgmock-dev googletest
  libsqlite3-dev libpq-dev libre2-dev libroaring-dev libcpp-httplib-dev libboost-dev libssl-dev
  golang-github-gogo-googleapis-dev
  redis-server postgresql
  # Tests make their own CA and certificates (tests/e2e, tests/k8s).
  openssl
  # Headless browser of the Reporting dashboard test (tests/services/reporting/dashboard).
  chromium
  # scripts/check-hardening.sh: Clang with libFuzzer and its sanitizer runtimes for fuzz/,
  # llvm-symbolizer for readable sanitizer stack traces.
  clang libclang-rt-14-dev llvm
  # bench/deployed: h2load drives the shipped binaries from outside (docs/PERFORMANCE.md).
  nghttp2-client
)
# tests/k8s (kubectl kustomize, then a Node.js check of the rendered manifests). Debian
# ships kubectl as kubernetes-client and npm as npm; a kubectl or a Node.js with its own
# npm already installed from another package (e.g. upstream's "kubectl" or "nodejs"
# packages, which own the same files) is used as it is instead.
command -v kubectl >/dev/null || packages+=(kubernetes-client)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The pinned npm packages of the k8s manifest test (tests/k8s/package-lock.json), so the
# test itself never reaches the network; reinstalled only when the lock changed.
k8s_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/k8s"
if ! cmp -s "$k8s_tests/package-lock.json" "$k8s_tests/node_modules/.centric-installed-lock.json"; then
  echo "install-deps: npm ci in tests/k8s"
  (cd "$k8s_tests" && npm ci --no-audit --no-fund --loglevel=error &&
   cp package-lock.json node_modules/.centric-installed-lock.json)
fi
# The Debian postgresql package starts a cluster service on install in some images; tests
# start their own throwaway servers on free ports, so the packaged one is not needed.
