package main

import (
	"errors"
	"io"
	"math"
	"testing"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/internal/trainbench"
)

// testBackendConfig runs simplego's ops one at a time: its default parallel
// executor (v0.26.0) has data races that "go test -race" reports.
const testBackendConfig = "ops_sequential"

func mustParse(t testing.TB, s string, rule arch.KernelRule) arch.Network {
	t.Helper()
	net, err := arch.Parse(s, rule)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

func TestCheckNet(t *testing.T) {
	for _, tc := range []struct {
		arch string
		rule arch.KernelRule
		ok   bool
	}{
		{candidate, arch.DefaultKernelRule(), true},
		{"2048x1-64x4-5", arch.DefaultKernelRule(), true},
		{candidate, arch.KernelRule{Same: 3, Overlap: 2}, false}, // kernel 2·stride, padded
		{"2048x1-2048x2-5", arch.DefaultKernelRule(), false},     // stride-1 conv, kernel 3
	} {
		err := checkNet(mustParse(t, tc.arch, tc.rule))
		if (err == nil) != tc.ok {
			t.Errorf("checkNet(%s, %+v) = %v, want ok = %v", tc.arch, tc.rule, err, tc.ok)
		}
	}
}

// TestGraphShapes checks the logits' shape and the number of learned
// parameters, which must equal splitnas's count for the same network.
func TestGraphShapes(t *testing.T) {
	net := mustParse(t, candidate, arch.DefaultKernelRule())
	backend, err := simplego.New(testBackendConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	ctx := mlctx.New()
	x := tensors.FromFlatDataAndDimensions(make([]float32, 3*2048), 3, 1, 2048)
	logits, err := mlctx.ExecOnce(backend, ctx, func(ctx *mlctx.Context, x *graph.Node) *graph.Node {
		return buildGraph(ctx, net, x)
	}, x)
	if err != nil {
		t.Fatal(err)
	}
	if got := logits.Shape().Dimensions; len(got) != 2 || got[0] != 3 || got[1] != 5 {
		t.Errorf("logits shape %v, want [3 5]", got)
	}
	params := 0
	for v := range ctx.IterVariables() {
		if v.Trainable { // skips e.g. the random number generator's state
			params += v.Shape().Size()
		}
	}
	if want := net.Params(); params != want {
		t.Errorf("GoMLX model has %d parameters, splitnas %d", params, want)
	}
}

// TestGoMLXLearns checks that gradients reach every layer well enough for
// the GoMLX model to memorise 32 random samples: the loss must fall from
// about ln 5 ≈ 1.61 to below 0.5.
func TestGoMLXLearns(t *testing.T) {
	net := mustParse(t, candidate, arch.DefaultKernelRule())
	data := trainbench.RandomData(net, 32, 7)
	secs, loss, err := timeGoMLX(net, data, 8, 150, testBackendConfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(secs) != 150 {
		t.Errorf("got %d epoch times, want 150", len(secs))
	}
	if math.IsNaN(loss) || loss > 0.5 {
		t.Errorf("loss after 150 epochs = %.3f, want < 0.5", loss)
	}
}

// BenchmarkGoMLXDatasetEpoch measures the part of a GoMLX epoch spent only
// yielding the shuffled mini-batches of 4,000 samples (no training).
func BenchmarkGoMLXDatasetEpoch(b *testing.B) {
	net := mustParse(b, candidate, arch.DefaultKernelRule())
	backend, err := simplego.New(testBackendConfig)
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Finalize()
	ds, err := inMemory(backend, trainbench.RandomData(net, 4000, 1), 32)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for {
			_, inputs, labels, err := ds.Yield()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			for _, t := range append(inputs, labels...) {
				t.FinalizeAll()
			}
		}
		ds.Reset()
	}
}
