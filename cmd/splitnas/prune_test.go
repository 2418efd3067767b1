package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant"
)

// TestPruneCommand: a trained model pruned by channel becomes a smaller
// network (fewer parameters, Flash, MACs, no more energy); pruned by
// magnitude it keeps its architecture with half its weights 0, which a
// quantization-aware fine-tuning with --keep-zeros keeps 0 in the int8
// model.
func TestPruneCommand(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.snnm")
	if _, err := run(t, "train", "--arch", "2048x1-128x8-32x8-8x8-5", "--epochs", "2", "--lr", "0.003", "--out", m); err != nil {
		t.Fatal(err)
	}
	prune := func(args ...string) pruneReport {
		t.Helper()
		out, err := run(t, append([]string{"prune", "--model", m, "--json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var r pruneReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		return r
	}

	mc := filepath.Join(dir, "channel.snnm")
	r := prune("--method", "channel", "--sparsity", "0.5", "--fine-tune-epochs", "1", "--out", mc)
	b, a := r.Before, r.After
	if a.Arch != "2048x1-128x4-32x4-8x4-5" || a.Params >= b.Params || a.MACs >= b.MACs || a.Flash >= b.Flash || a.EEdge > b.EEdge {
		t.Errorf("channel pruning: before %+v, after %+v", b, a)
	}
	if pm, err := nn.LoadFile(mc); err != nil || pm.String() != a.Arch {
		t.Errorf("--out %s: %v, %v", mc, pm, err)
	}

	mm := filepath.Join(dir, "magnitude.snnm")
	r = prune("--method", "magnitude", "--sparsity", "0.5", "--fine-tune-epochs", "2", "--stages", "2", "--out", mm)
	b, a = r.Before, r.After
	// The same architecture, stored sparse where that runs faster on the
	// profile: never more energy, Flash as the export writes it.
	if a.Arch != b.Arch || a.NonZero != a.Weights/2 || a.FlashDense != b.Flash || a.EEdge > b.EEdge || len(r.Stages) != 2 ||
		(len(a.Sparse) == 0) != (a.Flash == a.FlashDense) || (len(a.Sparse) == 0) != (a.EEdge == b.EEdge) {
		t.Errorf("magnitude pruning: before %+v, after %+v, stages %+v", b, a, r.Stages)
	}
	var ex exportReport
	out, err := run(t, "export", "--model", mm, "--split", fmt.Sprint(a.Split), "--out", filepath.Join(dir, "lib"), "--json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &ex); err != nil || ex.FlashBytes != a.Flash || !slices.Equal(ex.SparseLayers, a.Sparse) || ex.EEdgeMJ != a.EEdge {
		t.Errorf("export of the pruned model: %v; Flash %d B, sparse layers %v, E_edge %v; prune said %d B, %v, %v",
			err, ex.FlashBytes, ex.SparseLayers, ex.EEdgeMJ, a.Flash, a.Sparse, a.EEdge)
	}

	q := filepath.Join(dir, "q.snqm")
	if _, err := run(t, "train", "--arch", a.Arch, "--epochs", "1", "--init", mm, "--keep-zeros", "--qat", "8", "--out", q); err != nil {
		t.Fatal(err)
	}
	qm, err := quant.LoadFile(q)
	if err != nil {
		t.Fatal(err)
	}
	zeros := 0
	for _, l := range qm.Layers {
		for _, w := range l.W {
			if w == 0 {
				zeros++
			}
		}
	}
	if zeros < a.Weights/2 {
		t.Errorf("the int8 model of the pruned one has %d zero weights, want at least %d", zeros, a.Weights/2)
	}

	// The int8 model pruned further, directly: costed on the int8 profile,
	// written as a quantized model.
	q2 := filepath.Join(dir, "q2.snqm")
	r = prune("--model", q, "--method", "magnitude", "--sparsity", "0.8", "--out", q2)
	if qa := r.After; r.Profile != "stm32l476-int8" || qa.Arch != a.Arch || qa.NonZero != qa.Weights-int(math.Round(0.8*float64(qa.Weights))) ||
		r.Before.NonZero != qa.Weights-zeros || qa.EEdge > r.Before.EEdge {
		t.Errorf("pruning the int8 model: profile %s, before %+v, after %+v", r.Profile, r.Before, qa)
	}
	if pq, err := quant.LoadFile(q2); err != nil || pq.Bits != 8 {
		t.Errorf("--out %s: %v", q2, err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"prune", "--model", m}, `required flag(s) "method" not set`},
		{[]string{"prune", "--method", "channel"}, "--model is required"},
		{[]string{"prune", "--model", m, "--method", "random"}, `--method: unknown pruning method "random"`},
		{[]string{"prune", "--model", m, "--method", "channel", "--sparsity", "1"}, "--sparsity 1: want a fraction"},
		{[]string{"prune", "--model", m, "--method", "magnitude", "--stages", "0"}, "--stages 0"},
		{[]string{"prune", "--model", m, "--method", "magnitude", "--fine-tune-epochs", "-1"}, "--fine-tune-epochs -1"},
		{[]string{"prune", "--model", q, "--method", "channel"}, "is a quantized model: --method channel needs the float model"},
		{[]string{"prune", "--model", q, "--method", "magnitude", "--fine-tune-epochs", "2"}, "a quantized model is pruned without fine-tuning"},
		{[]string{"prune", "--model", filepath.Join(dir, "none.snnm"), "--method", "channel"}, "--model: "},
		{[]string{"train", "--arch", a.Arch, "--keep-zeros"}, "--keep-zeros needs --init"},
	} {
		t.Run(strings.Join(c.args[:min(4, len(c.args))], " "), func(t *testing.T) {
			_, stderr, code := runProcess(t, c.args...)
			if code == 0 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "panic") {
				t.Errorf("%v: exit %d, stderr %q; want non-zero and %q", c.args, code, stderr, c.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "none.snnm")); err == nil {
		t.Error("a refused prune wrote a file")
	}
}
