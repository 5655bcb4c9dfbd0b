#!/usr/bin/env bash
# Makes the dev overlay's TLS material and example token in certs/ beside this script.
# kustomization.yaml's secretGenerator reads them, so run it once before
# `kubectl apply -k k8s/overlays/dev` (kustomize fails while they are missing):
#
#   certs/ca.crt, certs/ca.key            a throwaway CA, dev only (365 days)
#   certs/centric-<service>/tls.crt, .key one certificate per service (90 days): common
#                                         name centric-<service> (its caller name in the
#                                         policies), serverAuth and clientAuth, DNS names
#                                         centric-<service>[.centric-dev[.svc[.cluster.local]]]
#   certs/centric-admin/tls.crt, .key     a client certificate for you: caller
#                                         centric-admin (the audit log), for grpcurl
#                                         through kubectl port-forward
#   certs/web-shop.token                  a random bearer token of the example platform
#                                         caller web-shop, and
#   certs/tokens                          its "web-shop sha256:<hex>" line, the tokens file
#                                         of every service
#
# Nothing in certs/ is committed (certs/.gitignore): every developer has their own CA, and
# no private key is in the repository. Existing files are kept; --force makes new ones
# (then `kubectl apply -k k8s/overlays/dev` and `kubectl -n centric-dev rollout restart
# deployment`: the services read certificates at start). Needs openssl (1.1.1 or newer).
# tests/k8s runs it in a temporary copy of k8s/ before rendering the overlay.
set -euo pipefail

namespace=centric-dev   # the overlay's namespace (kustomization.yaml)
services=(centric-profiles centric-segmentation centric-feedback centric-reporting)
dir="$(cd "$(dirname "$0")" && pwd)/certs"

force=0
case "${1:-}" in
  "") ;;
  --force) force=1 ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac
command -v openssl >/dev/null || { echo "make-dev-certs: openssl is missing" >&2; exit 1; }

wanted=("$dir/ca.crt" "$dir/tokens" "$dir/web-shop.token" "$dir/centric-admin/tls.crt")
for s in "${services[@]}"; do wanted+=("$dir/$s/tls.crt" "$dir/$s/tls.key"); done
if [ "$force" -eq 0 ]; then
  present=1
  for f in "${wanted[@]}"; do [ -s "$f" ] || present=0; done
  if [ "$present" -eq 1 ]; then
    echo "make-dev-certs: $dir is complete; --force makes new certificates and token"
    exit 0
  fi
fi

umask 077
mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A self-contained configuration, so the system's openssl.cnf adds nothing.
cat >"$work/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
x509_extensions = ca
prompt = no
[dn]
CN = Centric dev CA (throwaway)
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key" 2>/dev/null
openssl req -x509 -new -config "$work/ca.cnf" -key "$dir/ca.key" -sha256 -days 365 \
  -out "$dir/ca.crt"

# issue NAME EXTENDED_KEY_USAGE [DNS_NAMES]: certs/NAME/tls.crt and tls.key, signed by the CA.
issue() {
  local name="$1" eku="$2" dns="${3:-}"
  mkdir -p "$dir/$name"
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature"
    echo "extendedKeyUsage = $eku"
    echo "subjectKeyIdentifier = hash"
    echo "authorityKeyIdentifier = keyid"
    [ -z "$dns" ] || echo "subjectAltName = $dns"
  } >"$work/$name.ext"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$name/tls.key" 2>/dev/null
  openssl req -new -key "$dir/$name/tls.key" -subj "/CN=$name" -out "$work/$name.csr"
  openssl x509 -req -in "$work/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -sha256 -days 90 -extfile "$work/$name.ext" \
    -out "$dir/$name/tls.crt" 2>/dev/null
}

for s in "${services[@]}"; do
  issue "$s" "serverAuth, clientAuth" \
    "DNS:$s, DNS:$s.$namespace, DNS:$s.$namespace.svc, DNS:$s.$namespace.svc.cluster.local"
done
issue centric-admin "clientAuth"

# Only the hash goes into the Secret; the token stays with you.
token="$(openssl rand -hex 32)"
printf '%s\n' "$token" >"$dir/web-shop.token"
printf 'web-shop sha256:%s\n' "$(printf %s "$token" | openssl dgst -sha256 -r | cut -d' ' -f1)" \
  >"$dir/tokens"

echo "make-dev-certs: wrote $dir (CA, ${services[*]}, centric-admin, web-shop token)"
