#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-scheduler, kube-controller-manager and
# kwok from the Go module proxy, at the versions pinned in e2e/k8s/go.mod,
# and prints the folder that holds them, with kwok's stock stages (node
# initialise and lease heartbeat, pod ready, complete and delete) gathered
# from the kwok module into kwok-stages.yaml. The folder is named after the versions
# and the module's go.sum, so a later run finds the binaries and builds
# nothing; a cold build takes about 20 minutes on 2 cores.
#
#   AUGUR_E2E_BIN_CACHE  where versioned folders live (default e2e/.bin)
#   GO                   the go command (default go)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
GO="${GO:-go}"
cache="${AUGUR_E2E_BIN_CACHE:-$here/.bin}"
cd "$here/k8s"

k8s="$("$GO" list -m -f '{{.Version}}' k8s.io/kubernetes)"
etcd="$("$GO" list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
sum="$(sha256sum go.sum | cut -c1-12)"
dir="$cache/kubernetes-${k8s}_etcd-${etcd}_${sum}"
bins=(etcd kube-apiserver kube-scheduler kube-controller-manager kwok kwok-stages.yaml)

have=1
for b in "${bins[@]}"; do [ -e "$dir/$b" ] || have=0; done
if [ "$have" = 1 ]; then
	echo "control plane binaries cached in $dir" >&2
	echo "$dir"
	exit 0
fi

echo "building control plane binaries into $dir (kubernetes $k8s, etcd $etcd)" >&2
start=$(date +%s)
tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

minor="${k8s#v1.}"; minor="${minor%%.*}"
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
export CGO_ENABLED=0
nice -n 10 "$GO" build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3 >&2
nice -n 10 "$GO" build -trimpath -ldflags "$ldflags" -o "$tmp/" \
	k8s.io/kubernetes/cmd/kube-apiserver \
	k8s.io/kubernetes/cmd/kube-scheduler \
	k8s.io/kubernetes/cmd/kube-controller-manager >&2
nice -n 10 "$GO" build -trimpath -ldflags "-s -w" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok >&2

stages="$("$GO" list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
	pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
	echo "---"
	cat "$stages/$f"
done > "$tmp/kwok-stages.yaml"

rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "built control plane binaries in $(( $(date +%s) - start ))s" >&2
echo "$dir"
