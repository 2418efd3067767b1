package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/calib"
	"github.com/splitnas/splitnas/hw"
)

// needEmulation skips a test when the cross toolchain, QEMU or a host C
// compiler is missing (CI installs them), naming what to install.
func needEmulation(t *testing.T) {
	t.Helper()
	var missing *calib.MissingToolsError
	if _, err := calib.FindTools(); errors.As(err, &missing) {
		t.Skipf("skipping: %v", err)
	}
}

// TestMeasureMissingTools runs the command as a process with an empty PATH:
// it must fail saying which Debian packages to install.
func TestMeasureMissingTools(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.csv")
	cmd := exec.Command(os.Args[0], "calibrate", "measure", "--samples", "3", "--out", out)
	cmd.Env = append(os.Environ(), "SPLITNAS_TEST_MAIN=1", "PATH=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("empty PATH: %v, want exit status 1\n%s", err, stderr.String())
	}
	for _, want := range []string{"arm-none-eabi-gcc", "qemu-system-arm", "apt-get install gcc-arm-none-eabi qemu-system-arm"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed measurement wrote its CSV")
	}
}

func TestMeasureErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.csv")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"calibrate", "measure"}, "--out"},
		{[]string{"calibrate", "measure", "--out", out, "--precision", "int2"}, "--precision"},
		{[]string{"calibrate", "measure", "--out", out, "--samples", "0"}, "--samples"},
		{[]string{"calibrate", "measure", "--out", out, "--clock-hz", "100e6"}, "--wait-states"},
		{[]string{"calibrate", "measure", "--out", out, "--profile", "nosuch"}, "--profile"},
	} {
		_, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one naming %s", c.args, err, c.want)
		}
	}
}

// TestMeasureEndToEnd measures a few sampled layers and fits them: the CSV
// is what calibrate fit reads.
func TestMeasureEndToEnd(t *testing.T) {
	needEmulation(t)
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "m.csv")
	stdout, err := run(t, "calibrate", "measure", "--samples", "18", "--precision", "int8", "--jobs", "2", "--per-image", "5", "--out", csvPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"conv1d", "conv1d_transpose", "dense", "measured 18 int8 layers", csvPath} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := hw.ReadMeasurements(f, csvPath, 80e6)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 18 {
		t.Fatalf("%d measurements, want 18", len(ms))
	}
	text, _ := os.ReadFile(csvPath)
	if !strings.HasPrefix(string(text), "# splitnas calibrate measure ") || !strings.Contains(string(text), "--samples 18") ||
		!strings.Contains(string(text), "qemu-system-arm") || !strings.Contains(string(text), ",int8,") {
		t.Errorf("CSV does not record the command, tools and precision:\n%.400s", text)
	}
	fitOut := filepath.Join(dir, "fitted.toml")
	if _, err := run(t, "calibrate", "fit", "--csv", csvPath, "--out", fitOut); err != nil {
		t.Fatalf("fitting the measurements: %v", err)
	}
	if _, err := hw.Load(fitOut); err != nil {
		t.Fatal(err)
	}

	// The whole-partition check against the fitted profile.
	a := "256x1-64x2-64x3-128x2-7"
	if _, err := arch.Parse(a, arch.DefaultKernelRule()); err != nil {
		t.Fatal(err)
	}
	stdout, err = run(t, "calibrate", "measure", "--check-arch", a, "--split", "3", "--precision", "int8", "--profile", fitOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"partition 1..3", "emulated", "predicts", "conv1d_transpose"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
	if _, err := run(t, "calibrate", "measure", "--check-arch", a, "--split", "9"); err == nil || !strings.Contains(err.Error(), "--split") {
		t.Errorf("--split 9 of 5 layers: %v", err)
	}
}

// TestMeasureFlagConflicts: flags that would be silently ignored are
// refused, naming them, before any tool is looked for.
func TestMeasureFlagConflicts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.csv")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--check-arch", "2048x1-128x2-5", "--out", out}, "--out"},
		{[]string{"--out", out, "--split", "1"}, "--split is for --check-arch"},
		{nil, "--out is required"},
	} {
		_, err := run(t, append([]string{"calibrate", "measure"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("calibrate measure %v: %v, want an error containing %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused command wrote %s", out)
	}
}
