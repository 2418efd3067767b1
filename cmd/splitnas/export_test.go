package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/export"
)

// TestExportCommand exports a trained float model and its int8 form: the
// default split is the profile's choice, the files are written, and the
// summary's Flash and RAM are arch's at that precision.
func TestExportCommand(t *testing.T) {
	model := trainedModel(t)
	dir := t.TempDir()
	out, err := run(t, "export", "--model", model, "--out", filepath.Join(dir, "f32"), "--split", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var s export.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	// 2048x1-128x2-8x4-64x2-5 at P = 2 in float32: Flash (34+132)·4 = 664 B,
	// RAM (2048+256)·4 = 9,216 B (arch's metrics test).
	if s.Split != 2 || s.FlashBytes != 664 || s.RAMBytes != 9216 || s.Precision != "float32" {
		t.Errorf("summary %+v", s)
	}
	for _, f := range s.Files {
		if _, err := os.Stat(filepath.Join(dir, "f32", f)); err != nil {
			t.Error(err)
		}
	}
	q := filepath.Join(dir, "m.snqm")
	if _, err := run(t, "quantize", "--model", model, "--out", q); err != nil {
		t.Fatal(err)
	}
	text, err := run(t, "export", "--model", q, "--out", filepath.Join(dir, "i8"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(int8)", "cost (stm32l476-int8)"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", dir}, "--model is required"},
		{[]string{"--model", model, "--out", dir, "--format", "onnx"}, `--format "onnx": want c`},
		{[]string{"--model", model, "--out", dir, "--split", "9"}, "--split 9: 2048x1-128x2-8x4-64x2-5 has layers 1..4"},
		{[]string{"--model", model, "--out", dir, "--profile", "stm32l476-int8"}, "profile stm32l476-int8 is int8, the model float32"},
		{[]string{"--model", filepath.Join(dir, "none.snnm"), "--out", dir}, "none.snnm"},
		{[]string{"--model", model, "--out", model}, "is a file, want a directory"},
	} {
		_, stderr, code := runProcess(t, append([]string{"export"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("export %v: exit %d, stderr %q; want %q", c.args, code, stderr, c.want)
		}
	}
}

// TestExportVerify runs export --verify on a trained model: the host build
// matches Go, the emulated one the host, and the summary says so.
func TestExportVerify(t *testing.T) {
	for _, tool := range []string{"gcc", "arm-none-eabi-gcc", "qemu-system-arm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH; .ci/run installs it", tool)
		}
	}
	model := trainedModel(t)
	q := filepath.Join(t.TempDir(), "m.snqm")
	if _, err := run(t, "quantize", "--model", model, "--out", q); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{model, q} {
		dir := filepath.Join(t.TempDir(), "lib")
		out, err := run(t, "export", "--model", m, "--out", dir, "--split", "3", "--verify", "--windows", "3", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Verification *export.Verification `json:"verification"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		v := r.Verification
		if v == nil || v.Windows != 3 || v.HostMismatches != 0 || v.EmuMismatches != 0 || v.EmulatedCycles <= 0 {
			t.Errorf("%s: verification %+v", m, v)
		}
		if _, err := os.Stat(filepath.Join(dir, export.FirmwareDir, "main.c")); err != nil {
			t.Error(err)
		}
	}
}
