// Command onnxcheck runs an integer model's ONNX export (whole.onnx, in both
// rounding modes, export.RoundQDQ and export.RoundTFLite) in ONNX Runtime on
// a split of a dataset file and compares every window's int8 class scores
// and prediction with the Go integer reference (quant.Model.Run), once with
// ONNX Runtime's graph as written (session.disable_quant_qdq = 1) and once
// with its default session (fused integer kernels). It prints one line per
// mode and session; the README's MIT-BIH numbers of "ONNX export" come from
//
//	go run ./bench/onnxcheck --model /tmp/fogdemo-i8.snqm --data /tmp/mitdb-b256.snds [--split train]
//
// It needs node and export/testdata/ort's onnxruntime-node
// (ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix export/testdata/ort), and is
// run from the module root.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/export"
	"github.com/splitnas/splitnas/quant"
)

func main() {
	model := flag.String("model", "", "integer model (.snqm)")
	data := flag.String("data", "", "dataset file (.snds)")
	split := flag.String("split", "test", "which split's windows: train, val or test")
	script := flag.String("script", "export/testdata/ort/run.mjs", "the Node script that runs ONNX Runtime")
	flag.Parse()
	if err := run(*model, *data, *split, *script); err != nil {
		fmt.Fprintln(os.Stderr, "onnxcheck:", err)
		os.Exit(1)
	}
}

func run(model, data, split, script string) error {
	if model == "" || data == "" {
		return fmt.Errorf("--model and --data are required")
	}
	m, err := quant.LoadFile(model)
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	d, err := dataset.Load(data)
	if err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	var part dataset.Split
	switch split {
	case "train":
		part = dataset.Train
	case "val":
		part = dataset.Val
	case "test":
		part = dataset.Test
	default:
		return fmt.Errorf("--split %q: want train, val or test", split)
	}
	t := d.Part(part)
	if t.Len() == 0 {
		return fmt.Errorf("--data %s has no %s windows", data, split)
	}
	dir, err := os.MkdirTemp("", "onnxcheck")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "in.bin")
	raw := make([]byte, 0, t.Len()*t.SampleSize()*4)
	want := make([][]int8, t.Len())
	q := make([]int8, t.SampleSize())
	for i := range t.Len() {
		x := t.Sample(i)
		for _, v := range x {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
		m.QuantizeInput(x, q)
		want[i] = m.Run(q, 0, len(m.Layers))
	}
	if err := os.WriteFile(in, raw, 0o644); err != nil {
		return err
	}
	for _, rounding := range []export.ONNXRounding{export.RoundQDQ, export.RoundTFLite} {
		sub := filepath.Join(dir, rounding.String())
		if _, err := export.WriteONNXWith(sub, export.Network{Int: m}, 1, export.ONNXOptions{Rounding: rounding}); err != nil {
			return err
		}
		for _, asWritten := range []bool{true, false} {
			args := []string{script}
			if asWritten {
				args = append(args, "--float-qdq")
			}
			out := filepath.Join(dir, "out.bin")
			args = append(args, filepath.Join(sub, export.WholeONNXFile), in, out, "float32",
				strconv.Itoa(t.Len()), strconv.Itoa(t.Channels), strconv.Itoa(t.Length))
			if msg, err := exec.Command("node", args...).CombinedOutput(); err != nil {
				return fmt.Errorf("onnxruntime: %v\n%s", err, msg)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				return err
			}
			K := len(want[0])
			if len(got) != t.Len()*K {
				return fmt.Errorf("onnxruntime gave %d bytes, want %d windows × %d scores", len(got), t.Len(), K)
			}
			same, equalScores, worst := 0, 0, 0
			for i, w := range want {
				g := got[i*K : (i+1)*K]
				bw, bg, diff := 0, 0, 0
				for j := range K {
					if w[j] > w[bw] {
						bw = j
					}
					if int8(g[j]) > int8(g[bg]) {
						bg = j
					}
					diff = max(diff, abs(int(w[j])-int(int8(g[j]))))
				}
				if bw == bg {
					same++
				}
				if diff == 0 {
					equalScores++
				}
				worst = max(worst, diff)
			}
			session := "graph as written"
			if !asWritten {
				session = "default session"
			}
			fmt.Printf("%-6s %-16s %d %s windows: predictions equal %d (%.2f %%), scores equal %d, largest difference %d step(s)\n",
				rounding, session, t.Len(), split, same, 100*float64(same)/float64(t.Len()), equalScores, worst)
		}
	}
	return nil
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
