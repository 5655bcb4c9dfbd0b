#!/usr/bin/env bash
# The k8s_manifests test: renders and checks every overlay. The pinned npm packages are
# installed by scripts/install-deps.sh (npm ci into tests/k8s/node_modules), so the test
# makes no network calls. openssl (a dependency of ca-certificates and postgresql) makes
# the dev overlay's certificates (k8s/overlays/dev/make-dev-certs.sh) in a temporary copy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "k8s_manifests: node and npm are missing; run scripts/install-deps.sh" >&2; exit 1; }
command -v kubectl >/dev/null ||
  { echo "k8s_manifests: kubectl is missing; run scripts/install-deps.sh" >&2; exit 1; }
command -v openssl >/dev/null ||
  { echo "k8s_manifests: openssl is missing (apt-get install openssl)" >&2; exit 1; }
cmp -s package-lock.json node_modules/.centric-installed-lock.json ||
  { echo "k8s_manifests: tests/k8s/node_modules is missing or stale; run scripts/install-deps.sh" >&2; exit 1; }
exec node validate.mjs --root "$here/../.." "$@"
