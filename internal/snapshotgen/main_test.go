package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestSnapshotsUpToDate regenerates the embedded snapshots from the data
// sets, when they are present, and checks the committed files match.
func TestSnapshotsUpToDate(t *testing.T) {
	data := "../../../shared/data"
	if _, err := os.Stat(filepath.Join(data, advisorFile)); err != nil {
		t.Skipf("data sets not present: %v", err)
	}
	for kind, files := range map[string][]string{
		"cost": {"instance_types.csv", "ondemand.csv"},
		"spot": {"advisor.csv"},
	} {
		out := t.TempDir()
		gen := genCost
		if kind == "spot" {
			gen = genSpot
		}
		if err := gen(data, out); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		for _, f := range files {
			want, err := os.ReadFile(filepath.Join(out, "snapshot", f))
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join("../..", kind, "snapshot", f))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s/snapshot/%s is stale: run make generate", kind, f)
			}
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	if err := genCost(t.TempDir(), t.TempDir()); err == nil {
		t.Error("genCost on an empty folder succeeded")
	}
	if err := genSpot(t.TempDir(), t.TempDir()); err == nil {
		t.Error("genSpot on an empty folder succeeded")
	}
}
