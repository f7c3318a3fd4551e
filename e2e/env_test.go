package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/augur-autoscaler/augur/e2e/harness"
)

// suiteEnv holds what the suite needs from the machine, found through
// environment variables that `make e2e` sets.
type suiteEnv struct {
	binDir     string // AUGUR_E2E_BIN_DIR: control-plane binaries
	augur      string // AUGUR_E2E_AUGUR: the augur binary
	prometheus string // AUGUR_E2E_PROMETHEUS: the prometheus binary
	chartDir   string
	caValues   string
	artifacts  string // AUGUR_E2E_ARTIFACTS: logs kept after the run
	// kubeconfig (AUGUR_E2E_KUBECONFIG) names a cluster to run on instead
	// of starting one, as make e2e-kind does; image (AUGUR_E2E_IMAGE) is
	// the image loaded into it.
	kubeconfig, image string
}

// loadEnv finds the prerequisites. A missing one skips the test, unless
// AUGUR_E2E_REQUIRE=1 (set by make e2e and CI), where it fails it.
func loadEnv(t *testing.T) suiteEnv {
	t.Helper()
	e := suiteEnv{
		binDir:     os.Getenv("AUGUR_E2E_BIN_DIR"),
		augur:      getenv("AUGUR_E2E_AUGUR", filepath.Join("..", "bin", "augur")),
		prometheus: getenv("AUGUR_E2E_PROMETHEUS", "/usr/bin/prometheus"),
		chartDir:   filepath.Join("..", "manifests", "charts", "augur"),
		caValues:   filepath.Join("..", "manifests", "cluster-autoscaler-values.yaml"),
		artifacts:  os.Getenv("AUGUR_E2E_ARTIFACTS"),
		kubeconfig: os.Getenv("AUGUR_E2E_KUBECONFIG"),
		image:      getenv("AUGUR_E2E_IMAGE", "augur:e2e"),
	}
	missing := func(err error) {
		if os.Getenv("AUGUR_E2E_REQUIRE") == "1" {
			t.Fatalf("e2e prerequisite: %v", err)
		}
		t.Skipf("e2e prerequisite missing (make e2e builds them): %v", err)
	}
	if e.kubeconfig == "" {
		if e.binDir == "" {
			missing(errNoBinDir)
		}
		for _, b := range harness.Binaries() {
			if _, err := harness.Find(filepath.Join(e.binDir, b), "make e2e-bins"); err != nil {
				missing(err)
			}
		}
	}
	var err error
	if e.augur, err = harness.Find(e.augur, "make build"); err != nil {
		missing(err)
	}
	if e.prometheus, err = harness.Find(e.prometheus, "apt-get install prometheus"); err != nil {
		missing(err)
	}
	if e.artifacts == "" {
		// A folder of our own rather than t.TempDir, so that the logs
		// outlive a failed run; a passing run removes it.
		dir, err := os.MkdirTemp("", "augur-e2e-")
		if err != nil {
			t.Fatalf("creating artifacts folder: %v", err)
		}
		e.artifacts = dir
		t.Cleanup(func() {
			if !t.Failed() {
				os.RemoveAll(dir)
			}
		})
	} else if err := os.MkdirAll(e.artifacts, 0o755); err != nil {
		t.Fatalf("creating artifacts folder: %v", err)
	}
	return e
}

type envError string

func (e envError) Error() string { return string(e) }

const errNoBinDir = envError("AUGUR_E2E_BIN_DIR is not set (run e2e/build-control-plane.sh)")

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
