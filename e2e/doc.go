// Package e2e runs Augur against a real Kubernetes control plane: etcd,
// kube-apiserver, kube-scheduler and kube-controller-manager started as
// processes on loopback, the Helm chart rendered with the Helm SDK and
// applied with server-side validation, the expander binary answering
// CA-shaped requests over TLS, and Debian's Prometheus scraping it.
//
// The suite needs the control-plane binaries (make e2e-bins) and the augur
// binary (make build); `make e2e` builds both and runs it. Without them
// every test skips with the reason.
package e2e
