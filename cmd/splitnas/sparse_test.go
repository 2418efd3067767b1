package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/hw"
)

// TestCalibrateSparse: the sampled fit prints both profile tables; a
// small table of one Dense layer reads back as a sparse table.
func TestCalibrateSparse(t *testing.T) {
	needEmulation(t)
	out, err := run(t, "calibrate", "sparse", "--precision", "int8", "--samples", "10", "--densities", "0,0.1,0.5,1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[edge.sparse.conv1d]", "[edge.sparse.dense]", "per_nonzero_mac = ", "measured 40 sparse int8 layers"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	table := filepath.Join(t.TempDir(), "s.csv")
	if out, err = run(t, "calibrate", "sparse", "--precision", "int4", "--all-layers", "--out", table, "--classes", "2", "--overlap", "1"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(table)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := hw.ReadSparseTable(f, table)
	if err != nil || st.Len() < 100 || !strings.Contains(out, "check on the ") {
		t.Errorf("table %s: %v, %d layers; output:\n%s", table, err, st.Len(), out)
	}
}

func TestCalibrateSparseBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--samples", "1"}, "--samples 1: want at least 2"},
		{[]string{"--densities", "0.5,2"}, "--densities: 2 is not a fraction"},
		{[]string{"--precision", "int3"}, "--precision: "},
		{[]string{"--all-layers"}, "--all-layers and --out go together"},
		{[]string{"--out", "x.csv"}, "--all-layers and --out go together"},
		{[]string{"--overlap", "one"}, "--overlap"},
	} {
		args := append([]string{"calibrate", "sparse"}, c.args...)
		_, stderr, code := runProcess(t, args...)
		if code == 0 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "panic") {
			t.Errorf("%v: exit %d, stderr %q; want non-zero and %q", args, code, stderr, c.want)
		}
	}
}
