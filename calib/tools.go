package calib

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Tools are the programs an Emulator runs: the cross compiler, QEMU and the
// host C compiler that builds the counting plugin.
type Tools struct {
	CrossCC string // arm-none-eabi-gcc
	QEMU    string // qemu-system-arm
	HostCC  string // gcc or cc
}

// toolPackages maps each tool to the Debian package that provides it.
var toolPackages = []struct{ tool, pkg string }{
	{"arm-none-eabi-gcc", "gcc-arm-none-eabi"},
	{"qemu-system-arm", "qemu-system-arm"},
	{"gcc", "gcc"},
}

// MissingToolsError says which tools are not on PATH and which Debian
// packages provide them.
type MissingToolsError struct {
	Tools    []string // e.g. arm-none-eabi-gcc
	Packages []string // e.g. gcc-arm-none-eabi
}

func (e *MissingToolsError) Error() string {
	return fmt.Sprintf("calib: %s not found on PATH; install with: apt-get install %s",
		strings.Join(e.Tools, ", "), strings.Join(e.Packages, " "))
}

// FindTools looks the tools up on PATH. If any is missing it returns a
// *MissingToolsError naming the tools and the Debian packages to install
// (gcc-arm-none-eabi, qemu-system-arm, and gcc for the host compiler; cc
// also serves as the host compiler).
func FindTools() (Tools, error) {
	var t Tools
	missing := &MissingToolsError{}
	for _, tp := range toolPackages {
		path, err := exec.LookPath(tp.tool)
		if err != nil && tp.tool == "gcc" {
			path, err = exec.LookPath("cc")
		}
		if err != nil {
			missing.Tools = append(missing.Tools, tp.tool)
			missing.Packages = append(missing.Packages, tp.pkg)
			continue
		}
		switch tp.tool {
		case "arm-none-eabi-gcc":
			t.CrossCC = path
		case "qemu-system-arm":
			t.QEMU = path
		default:
			t.HostCC = path
		}
	}
	if len(missing.Tools) > 0 {
		return t, missing
	}
	return t, nil
}

// CrossFlags returns the arm-none-eabi-gcc flags of every image: Cortex-M4
// with its single-precision FPU, hard-float ABI, -O2, bare metal. The slice
// is new on every call.
func CrossFlags() []string {
	return []string{"-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2", "-ffreestanding", "-nostdlib", "-Wall"}
}

// commonSources are the C files of every image but its main.c, written to
// and compiled in the emulator's directory.
var commonSources = []string{"startup.c", "semihost.c", "runtime.c", "kernels_f32.c", "kernels_i8.c", "kernels_i4.c"}

// Boards lists the QEMU machines Measure supports, the default first. The
// slice is new on every call.
func Boards() []string { return []string{"mps2-an386"} }

// qemuVersionRE finds the version in qemu-system-arm --version's output.
var qemuVersionRE = regexp.MustCompile(`version (\d+)\.(\d+)(\.\d+)?`)

// Emulator builds and runs calibration images. Its methods may be called
// from several goroutines at once. Close removes its work directory.
type Emulator struct {
	Tools
	Board string
	// QEMUVersion is what qemu-system-arm --version reports, e.g. "7.2.22";
	// CrossCCVersion what arm-none-eabi-gcc -dumpversion does, e.g. "12.2.1".
	QEMUVersion, CrossCCVersion string

	dir string // sources, kernels and plugin

	mu         sync.Mutex
	plugin     string // built plugin, or "" before the first build
	apiVersion int    // its QEMU plugin API version

	sparseMu    sync.Mutex
	sparseBuilt bool // sparseObjects has compiled the sparse images' objects
}

// NewEmulator finds the tools (see FindTools), checks the board, writes the
// C sources to a temporary directory and builds the counting plugin.
func NewEmulator(ctx context.Context, board string) (*Emulator, error) {
	boards := Boards()
	if board == "" {
		board = boards[0]
	}
	if !slices.Contains(boards, board) {
		return nil, fmt.Errorf("calib: unsupported board %q (supported: %s)", board, strings.Join(boards, ", "))
	}
	tools, err := FindTools()
	if err != nil {
		return nil, err
	}
	e := &Emulator{Tools: tools, Board: board}
	out, err := exec.CommandContext(ctx, tools.QEMU, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("calib: %s --version: %w", tools.QEMU, err)
	}
	major := 0
	if m := qemuVersionRE.FindStringSubmatch(string(out)); m != nil {
		e.QEMUVersion = strings.TrimPrefix(m[0], "version ")
		major, _ = strconv.Atoi(m[1])
	}
	if out, err := exec.CommandContext(ctx, tools.CrossCC, "-dumpversion").Output(); err == nil {
		e.CrossCCVersion = strings.TrimSpace(string(out))
	}
	if e.dir, err = os.MkdirTemp("", "splitnas-calib-"); err != nil {
		return nil, fmt.Errorf("calib: %w", err)
	}
	for _, name := range []string{"calib.h", "splitnas_kernels.h", "runtime.c", "semihost.c", "startup.c", "link.ld", "plugin/count.c"} {
		b, err := source(name)
		if err == nil {
			err = os.WriteFile(filepath.Join(e.dir, filepath.Base(name)), b, 0o644)
		}
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("calib: %w", err)
		}
	}
	for _, p := range []Precision{Float32, Int8, Int4} {
		src, err := kernelsC(p)
		if err == nil {
			err = os.WriteFile(filepath.Join(e.dir, "kernels_"+p.suffix()+".c"), src, 0o644)
		}
		if err != nil {
			e.Close()
			return nil, err
		}
	}
	// The sources every image shares, compiled once.
	cargs := append(CrossFlags(), "-I", e.dir, "-c")
	for _, f := range commonSources {
		cargs = append(cargs, filepath.Join(e.dir, f))
	}
	if err := run(ctx, e.dir, tools.CrossCC, cargs...); err != nil {
		e.Close()
		return nil, fmt.Errorf("calib: cross-compiling the runtime and kernels: %w", err)
	}
	// QEMU loads plugins of API versions from its minimum to its current
	// one: the minimum was 0 before QEMU 9 and is 2 since (the functions
	// used here did not change). If QEMU names another range, the first
	// run rebuilds the plugin for it (see runImage).
	api := 1
	if major >= 9 {
		api = 2
	}
	if err := e.buildPlugin(ctx, api); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// sparseObjects compiles, on the first call that succeeds, what the images
// of layers stored sparse link besides the common objects: the sparse
// kernels of each precision (sparse_f32.o, sparse_i8.o, sparse_i4.o) and
// the runtime with fill_sparse (runtime_sparse.o: runtime.c with
// CALIB_SPARSE defined). Dense images never link them, so their layout
// stays as it was measured.
func (e *Emulator) sparseObjects(ctx context.Context) error {
	e.sparseMu.Lock()
	defer e.sparseMu.Unlock()
	if e.sparseBuilt {
		return nil
	}
	cargs := append(CrossFlags(), "-I", e.dir, "-c")
	for _, p := range []Precision{Float32, Int8, Int4} {
		src, err := sparseC(p)
		if err != nil {
			return err
		}
		path := filepath.Join(e.dir, "sparse_"+p.suffix()+".c")
		if err := os.WriteFile(path, src, 0o644); err != nil {
			return fmt.Errorf("calib: %w", err)
		}
		cargs = append(cargs, path)
	}
	if err := run(ctx, e.dir, e.CrossCC, cargs...); err != nil {
		return fmt.Errorf("calib: cross-compiling the sparse kernels: %w", err)
	}
	rargs := append(CrossFlags(), "-I", e.dir, "-DCALIB_SPARSE", "-c", "-o", filepath.Join(e.dir, "runtime_sparse.o"),
		filepath.Join(e.dir, "runtime.c"))
	if err := run(ctx, e.dir, e.CrossCC, rargs...); err != nil {
		return fmt.Errorf("calib: cross-compiling the sparse images' runtime: %w", err)
	}
	e.sparseBuilt = true
	return nil
}

// Close removes the emulator's work directory.
func (e *Emulator) Close() error {
	if e.dir == "" {
		return nil
	}
	err := os.RemoveAll(e.dir)
	e.dir = ""
	return err
}

// buildPlugin compiles the counting plugin for QEMU plugin API version api.
func (e *Emulator) buildPlugin(ctx context.Context, api int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	so := filepath.Join(e.dir, fmt.Sprintf("count-v%d.so", api))
	if err := run(ctx, e.dir, e.HostCC, "-shared", "-fPIC", "-O2", "-Wall", fmt.Sprintf("-DCALIB_PLUGIN_API=%d", api),
		"-o", so, filepath.Join(e.dir, "count.c")); err != nil {
		return fmt.Errorf("calib: building the counting plugin: %w", err)
	}
	e.plugin, e.apiVersion = so, api
	return nil
}

func (e *Emulator) pluginPath() (string, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.plugin, e.apiVersion
}

// run runs a command in dir and returns an error with its output if it
// fails.
func run(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := strings.TrimSpace(out.String())
		if len(msg) > 4000 {
			msg = msg[:4000] + " …"
		}
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, msg)
	}
	return nil
}
