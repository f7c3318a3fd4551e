#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-scheduler and kube-controller-manager
# from the Go module proxy, at the versions pinned in e2e/k8s/go.mod, and
# prints the folder that holds them. The folder is named after the versions
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
bins=(etcd kube-apiserver kube-scheduler kube-controller-manager)

have=1
for b in "${bins[@]}"; do [ -x "$dir/$b" ] || have=0; done
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

rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "built control plane binaries in $(( $(date +%s) - start ))s" >&2
echo "$dir"
