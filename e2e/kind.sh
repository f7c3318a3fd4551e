#!/usr/bin/env bash
# Runs the e2e suite on a kind cluster with the image built from the
# repository's Dockerfile. Needs Docker, kind and Debian's prometheus (or
# AUGUR_E2E_PROMETHEUS); the augur binary is still run locally for the
# scenarios that call it directly.
#
#   KIND_CLUSTER        cluster name (default augur-e2e)
#   KIND_KEEP=1         keep the cluster afterwards
#   AUGUR_E2E_IMAGE     image tag to build and load (default augur:e2e)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
GO="${GO:-go}"
cluster="${KIND_CLUSTER:-augur-e2e}"
image="${AUGUR_E2E_IMAGE:-augur:e2e}"

for tool in docker kind; do
	command -v "$tool" >/dev/null || { echo "e2e-kind: $tool not found" >&2; exit 1; }
done

kubeconfig="$(mktemp)"
cleanup() {
	rm -f "$kubeconfig"
	if [ "${KIND_KEEP:-0}" != 1 ]; then kind delete cluster --name "$cluster" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if ! kind get clusters 2>/dev/null | grep -qx "$cluster"; then
	kind create cluster --name "$cluster" --wait 120s
fi
kind get kubeconfig --name "$cluster" > "$kubeconfig"

docker build -t "$image" \
	--build-arg VERSION="$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)" \
	--build-arg COMMIT="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
	"$root"
kind load docker-image "$image" --name "$cluster"

cd "$here"
AUGUR_E2E_REQUIRE=1 AUGUR_E2E_KUBECONFIG="$kubeconfig" AUGUR_E2E_IMAGE="$image" \
	"$GO" test -count=1 -v -timeout "${E2E_TIMEOUT:-20m}" ./...
