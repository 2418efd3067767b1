package calib

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// imageTimeout bounds one QEMU run: far more than the largest image takes.
const imageTimeout = 5 * time.Minute

// build cross-compiles an image into its own directory under the
// emulator's and returns the ELF file's path.
func (e *Emulator) build(ctx context.Context, im image) (string, error) {
	src, err := im.mainC()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(e.dir, "image-")
	if err != nil {
		return "", fmt.Errorf("calib: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.c"), src, 0o644); err != nil {
		return "", fmt.Errorf("calib: %w", err)
	}
	elfPath := filepath.Join(dir, "image.elf")
	objs := []string{"startup.o", "semihost.o", "runtime.o", "kernels_" + im.prec.suffix() + ".o"}
	if im.sparse != nil {
		// The runtime with fill_sparse, and the sparse kernels after the
		// dense ones (as package export links them); dense images link
		// exactly what they did before sparse layers existed.
		if err := e.sparseObjects(ctx); err != nil {
			return "", err
		}
		objs = []string{"startup.o", "semihost.o", "runtime_sparse.o", "kernels_" + im.prec.suffix() + ".o", "sparse_" + im.prec.suffix() + ".o"}
	}
	args := append(CrossFlags(), "-I", e.dir, "-T", filepath.Join(e.dir, "link.ld"), "-o", elfPath)
	for _, o := range objs {
		args = append(args, filepath.Join(e.dir, o))
	}
	args = append(args, filepath.Join(dir, "main.c"), "-lgcc")
	if err := run(ctx, dir, e.CrossCC, args...); err != nil {
		return "", fmt.Errorf("calib: cross-compiling an image: %w", err)
	}
	return elfPath, nil
}

// markers returns the entry addresses of marker_begin and marker_end.
func markers(elfPath string) (begin, end uint64, err error) {
	f, err := elf.Open(elfPath)
	if err != nil {
		return 0, 0, fmt.Errorf("calib: %w", err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return 0, 0, fmt.Errorf("calib: %s: %w", elfPath, err)
	}
	for _, s := range syms {
		switch s.Name {
		case "marker_begin":
			begin = s.Value &^ 1 // the Thumb bit
		case "marker_end":
			end = s.Value &^ 1
		}
	}
	if begin == 0 || end == 0 || begin == end {
		return 0, 0, fmt.Errorf("calib: %s: marker_begin and marker_end not found as distinct functions", elfPath)
	}
	return begin, end, nil
}

var pluginVersionRE = regexp.MustCompile(`supports only (?:a minimum version of|up to version) (\d+)`)

// emulate runs an ELF image under QEMU with the counting plugin and returns
// the counts of each marker pair, in order, and what the image wrote (over
// semihosting, and QEMU's own messages).
func (e *Emulator) emulate(ctx context.Context, elfPath string) ([]Counts, string, error) {
	begin, end, err := markers(elfPath)
	if err != nil {
		return nil, "", err
	}
	countsPath := strings.TrimSuffix(elfPath, ".elf") + ".counts"
	for attempt := 0; ; attempt++ {
		plugin, api := e.pluginPath()
		rctx, cancel := context.WithTimeout(ctx, imageTimeout)
		cmd := exec.CommandContext(rctx, e.QEMU,
			"-M", e.Board, "-cpu", "cortex-m4", "-nodefaults", "-net", "none", "-display", "none", "-monitor", "none",
			"-semihosting-config", "enable=on,target=native",
			"-kernel", elfPath,
			"-plugin", fmt.Sprintf("%s,begin=%#x,end=%#x,out=%s", plugin, begin, end, countsPath))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		if err == nil {
			cs, err := readCounts(countsPath)
			return cs, out.String(), err
		}
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		if errors.Is(rctx.Err(), context.DeadlineExceeded) {
			return nil, "", fmt.Errorf("calib: %s did not finish within %v", elfPath, imageTimeout)
		}
		if m := pluginVersionRE.FindStringSubmatch(out.String()); m != nil && attempt == 0 {
			v, _ := strconv.Atoi(m[1])
			if v != api {
				if berr := e.buildPlugin(ctx, v); berr != nil {
					return nil, "", berr
				}
				continue
			}
		}
		return nil, "", fmt.Errorf("calib: qemu-system-arm -M %s %s: %w\n%s", e.Board, elfPath, err, strings.TrimSpace(out.String()))
	}
}

// readCounts parses the plugin's output file.
func readCounts(path string) ([]Counts, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("calib: plugin output: %w", err)
	}
	var cs []Counts
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) != numCounts+1 || f[0] != "m" {
			return nil, fmt.Errorf("calib: %s line %d: want \"m\" and %d counts, got %q", path, line, numCounts, sc.Text())
		}
		var c Counts
		for i, p := range c.values() {
			v, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("calib: %s line %d: %w", path, line, err)
			}
			*p = v
		}
		cs = append(cs, c)
	}
	return cs, sc.Err()
}

// runImage builds and emulates an image, and returns the counts of each
// of its marker pairs after the empty one, less the empty one's.
func (e *Emulator) runImage(ctx context.Context, im image) ([]Counts, error) {
	elfPath, err := e.build(ctx, im)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(filepath.Dir(elfPath))
	cs, _, err := e.emulate(ctx, elfPath)
	if err != nil {
		return nil, err
	}
	if len(cs) != im.pairs()+1 {
		return nil, fmt.Errorf("calib: the image ran %d marker pairs, want %d", len(cs), im.pairs()+1)
	}
	res := make([]Counts, im.pairs())
	for i := range res {
		res[i] = cs[i+1].Sub(cs[0])
		for _, v := range res[i].values() {
			if *v < 0 {
				return nil, errors.New("calib: a measured call counted less than the empty marker pair")
			}
		}
	}
	return res, nil
}

// RunFirmware cross-compiles a program — the C files srcs, with the
// directories incs on the include path — with calib's startup code,
// semihosting (semihost_write0, semihost_exit) and measurement markers
// (marker_begin, marker_end; declared in calib.h, which is on the include
// path), runs it on the emulated board with the counting plugin, and
// returns what it wrote over semihosting and the counts and cycles (cfg's
// table) of each of its marker pairs after the first, less the first's: the
// program makes one empty pair first, as the calibration images do. The
// program must end with semihost_exit.
func (e *Emulator) RunFirmware(ctx context.Context, cfg Config, srcs, incs []string) ([]Result, string, error) {
	dir, err := os.MkdirTemp(e.dir, "firmware-")
	if err != nil {
		return nil, "", fmt.Errorf("calib: %w", err)
	}
	defer os.RemoveAll(dir)
	elfPath := filepath.Join(dir, "firmware.elf")
	args := append(CrossFlags(), "-I", e.dir)
	for _, inc := range incs {
		args = append(args, "-I", inc)
	}
	args = append(args, "-T", filepath.Join(e.dir, "link.ld"), "-o", elfPath,
		filepath.Join(e.dir, "startup.o"), filepath.Join(e.dir, "semihost.o"), filepath.Join(e.dir, "runtime.o"))
	args = append(append(args, srcs...), "-lgcc")
	if err := run(ctx, dir, e.CrossCC, args...); err != nil {
		return nil, "", fmt.Errorf("calib: cross-compiling the firmware: %w", err)
	}
	cs, out, err := e.emulate(ctx, elfPath)
	if err != nil {
		return nil, out, err
	}
	if len(cs) < 1 {
		return nil, out, errors.New("calib: the firmware ran no marker pair")
	}
	res := make([]Result, len(cs)-1)
	for i := range res {
		c := cs[i+1].Sub(cs[0])
		res[i] = Result{Precision: cfg.Precision, Counts: c, Cycles: cfg.table().Cycles(c)}
	}
	return res, out, nil
}
