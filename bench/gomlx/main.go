// Command gomlx times one training epoch of a typical splitnas candidate,
// 2048x1-128x2-8x4-64x2-5, with splitnas's own engine (nn.Native) and with
// GoMLX's pure-Go backend (simplego), in the same process and on the same
// random data, and prints both epoch times and their ratio.
//
// Usage:
//
//	go run . [--samples 4000] [--batch 32] [--epochs 3] [--seed 1] [--backend-config ""] [--json]
//
// See README.md for how the network is expressed in GoMLX and why.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/datasets"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/internal/stats"
	"github.com/splitnas/splitnas/internal/trainbench"
	"github.com/splitnas/splitnas/nn"
)

// candidate is the architecture compared; buildGraph below hard-codes no
// sizes but supports only its layer kinds (see checkNet).
const candidate = "2048x1-128x2-8x4-64x2-5"

// report is the --json output.
type report struct {
	Arch               string    `json:"arch"`
	NativeEpochSeconds float64   `json:"native_epoch_seconds"`
	GoMLXEpochSeconds  float64   `json:"gomlx_epoch_seconds"`
	Ratio              float64   `json:"ratio"` // GoMLX ÷ native
	Samples            int       `json:"samples"`
	Batch              int       `json:"batch"`
	Epochs             int       `json:"epochs"`
	NativeEpochsAll    []float64 `json:"native_epoch_seconds_all"`
	GoMLXEpochsAll     []float64 `json:"gomlx_epoch_seconds_all"`
	NativeLastLoss     float64   `json:"native_last_train_loss"` // sanity check: mean loss of the last epoch
	GoMLXLastLoss      float64   `json:"gomlx_last_train_loss"`  // moving average of the batch loss at the end
	GoMLXVersion       string    `json:"gomlx_version"`
	GoMLXBackend       string    `json:"gomlx_backend"`
}

func main() {
	samples := flag.Int("samples", 4000, "random training samples")
	batch := flag.Int("batch", 32, "mini-batch size")
	epochs := flag.Int("epochs", 3, "timed epochs per engine (GoMLX runs one more, untimed, first)")
	seed := flag.Uint64("seed", 1, "data and training seed")
	backendConfig := flag.String("backend-config", "", `simplego configuration, e.g. "parallelism=1"`)
	asJSON := flag.Bool("json", false, "print a JSON report")
	flag.Parse()

	rep, err := run(*samples, *batch, *epochs, *seed, *backendConfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gomlx bench:", err)
		os.Exit(1)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "gomlx bench:", err)
			os.Exit(1)
		}
		return
	}
	fmt.Printf("arch %s, %d samples, batch %d, median of %d epochs\n", rep.Arch, rep.Samples, rep.Batch, rep.Epochs)
	fmt.Printf("native:                    %8.3f s/epoch  %v\n", rep.NativeEpochSeconds, rep.NativeEpochsAll)
	fmt.Printf("GoMLX %s simplego: %8.3f s/epoch  %v\n", rep.GoMLXVersion, rep.GoMLXEpochSeconds, rep.GoMLXEpochsAll)
	fmt.Printf("ratio GoMLX/native:        %8.2f\n", rep.Ratio)
	fmt.Printf("last train loss: native %.4f, GoMLX %.4f\n", rep.NativeLastLoss, rep.GoMLXLastLoss)
}

func run(samples, batch, epochs int, seed uint64, backendConfig string) (report, error) {
	if samples < 1 || batch < 1 || epochs < 1 {
		return report{}, fmt.Errorf("samples %d, batch %d, epochs %d: each must be at least 1", samples, batch, epochs)
	}
	net, err := arch.Parse(candidate, arch.DefaultKernelRule())
	if err != nil {
		return report{}, err
	}
	if err := checkNet(net); err != nil {
		return report{}, err
	}
	data := trainbench.RandomData(net, samples, seed)

	native, nativeLoss, err := timeNative(net, data, batch, epochs, seed)
	if err != nil {
		return report{}, fmt.Errorf("native: %w", err)
	}
	gomlx, gomlxLoss, err := timeGoMLX(net, data, batch, epochs, backendConfig)
	if err != nil {
		return report{}, fmt.Errorf("gomlx: %w", err)
	}
	rep := report{
		Arch: candidate, Samples: samples, Batch: batch, Epochs: epochs,
		NativeEpochSeconds: stats.Median(native), NativeEpochsAll: native,
		GoMLXEpochSeconds: stats.Median(gomlx), GoMLXEpochsAll: gomlx,
		NativeLastLoss: nativeLoss, GoMLXLastLoss: gomlxLoss,
		GoMLXVersion: moduleVersion("github.com/gomlx/gomlx"),
		GoMLXBackend: simplego.BackendName,
	}
	rep.Ratio = rep.GoMLXEpochSeconds / rep.NativeEpochSeconds
	return rep, nil
}

// timeNative trains with splitnas's engine and returns every epoch's time
// and the last epoch's training loss.
func timeNative(net arch.Network, data *dataset.Dataset, batch, epochs int, seed uint64) (secs []float64, loss float64, err error) {
	cfg := nn.DefaultConfig()
	cfg.Epochs, cfg.Batch, cfg.Seed = epochs, batch, seed
	res, err := nn.Native().Train(context.Background(), net, data, nil, cfg)
	if err != nil {
		return nil, 0, err
	}
	secs = make([]float64, len(res.History))
	for i, ep := range res.History {
		secs[i] = ep.Seconds
	}
	return secs, res.History[len(res.History)-1].TrainLoss, nil
}

// timeGoMLX trains the same network with GoMLX's Trainer, Loop and Adam on
// the simplego backend: one untimed warm-up epoch (it compiles the graph),
// then epochs timed ones. It also returns the trainer's moving average of
// the batch loss at the end.
func timeGoMLX(net arch.Network, data *dataset.Dataset, batch, epochs int, backendConfig string) (secs []float64, loss float64, err error) {
	backend, err := simplego.New(backendConfig)
	if err != nil {
		return nil, 0, err
	}
	defer backend.Finalize()

	ds, err := inMemory(backend, data, batch)
	if err != nil {
		return nil, 0, err
	}

	ctx := mlctx.New()
	model := func(ctx *mlctx.Context, _ any, inputs []*graph.Node) []*graph.Node {
		return []*graph.Node{buildGraph(ctx, net, inputs[0])}
	}
	trainer := train.NewTrainer(backend, ctx, model, losses.SparseCategoricalCrossEntropyLogits,
		optimizers.Adam().LearningRate(1e-3).Done(), nil, nil)
	loop := train.NewLoop(trainer)

	secs = make([]float64, 0, epochs)
	var metrics []*tensors.Tensor
	for i := range epochs + 1 {
		start := time.Now()
		if metrics, err = loop.RunEpochs(ds, 1); err != nil {
			return nil, 0, fmt.Errorf("epoch %d: %w", i, err)
		}
		if i > 0 { // epoch 0 is the warm-up
			secs = append(secs, time.Since(start).Seconds())
		}
	}
	// metrics[1] is the Trainer's moving average of the batch loss.
	if len(metrics) > 1 {
		if v, ok := metrics[1].Value().(float32); ok {
			loss = float64(v)
		}
	}
	return secs, loss, nil
}

// inMemory returns data as a GoMLX dataset yielding shuffled mini-batches:
// inputs of shape (batch, Ch, Len) — per sample the values are channel-major —
// and int32 labels of shape (batch, 1). The last batch may be smaller.
func inMemory(backend backends.Backend, data *dataset.Dataset, batch int) (*datasets.InMemoryDataset, error) {
	n := data.Len()
	labels := make([]int32, n)
	for i, l := range data.Labels {
		labels[i] = int32(l)
	}
	x := tensors.FromFlatDataAndDimensions(slices.Clone(data.X), n, data.Channels, data.Length)
	y := tensors.FromFlatDataAndDimensions(labels, n, 1)
	ds, err := datasets.InMemoryFromData(backend, "random", []any{x}, []any{y})
	if err != nil {
		return nil, err
	}
	return ds.Shuffle().BatchSize(batch, false), nil
}

// checkNet reports whether buildGraph can express net: every strided layer
// must have kernel = stride and no padding, the last layer must be Dense.
func checkNet(net arch.Network) error {
	for i, l := range net.Layers {
		last := i == len(net.Layers)-1
		switch {
		case last && l.Kind != arch.Dense, !last && l.Kind == arch.Dense:
			return fmt.Errorf("layer %d: only the last layer may be (and must be) Dense", i)
		case !last && (l.Kernel != l.Stride || l.PadLeft != 0 || l.PadRight != 0):
			return fmt.Errorf("layer %d: kernel %d, stride %d, padding %d+%d: only kernel = stride without padding is supported",
				i, l.Kernel, l.Stride, l.PadLeft, l.PadRight)
		}
	}
	if len(net.Layers) == 0 {
		return errors.New("network has no layers")
	}
	return nil
}

// buildGraph returns the logits of net for x of shape (batch, Ch, Len),
// channel-major like splitnas samples. It first transposes x to
// position-major (batch, Len, Ch); then a Conv with kernel = stride s is a
// reshape to (batch, Len/s, s·Ch) and a dot with an (s·Ch, Out.Ch) weight,
// and a ConvTranspose with kernel = stride s is a dot with a
// (Ch, s·Out.Ch) weight and a reshape to (batch, Len·s, Out.Ch). Both get
// one bias per output channel, as in splitnas. The weights are the same
// layers' weights up to a permutation of their entries.
func buildGraph(ctx *mlctx.Context, net arch.Network, x *graph.Node) *graph.Node {
	b := x.Shape().Dimensions[0]
	x = graph.TransposeAllDims(x, 0, 2, 1)
	for i, l := range net.Layers {
		ctx := ctx.In(fmt.Sprint("layer", i))
		s := l.Stride
		switch l.Kind {
		case arch.Conv:
			x = graph.Reshape(x, b, l.In.Len/s, s*l.In.Ch)
			x = layers.Dense(ctx, x, false, l.Out.Ch)
		case arch.ConvTranspose:
			x = layers.Dense(ctx, x, false, s*l.Out.Ch)
			x = graph.Reshape(x, b, l.In.Len*s, l.Out.Ch)
		case arch.Dense:
			x = graph.Reshape(x, b, l.In.Len*l.In.Ch)
			x = layers.Dense(ctx, x, false, l.Out.Len)
		}
		x = addBias(ctx, x)
		if l.ReLU {
			x = activations.Relu(x)
		}
	}
	return x
}

// addBias adds a learned bias along x's last axis (the channels).
func addBias(ctx *mlctx.Context, x *graph.Node) *graph.Node {
	dims := x.Shape().Dimensions
	ch := dims[len(dims)-1]
	bias := ctx.VariableWithShape("bias", shapes.Make(dtypes.Float32, ch)).ValueGraph(x.Graph())
	return graph.Add(x, graph.ExpandLeftToRank(bias, x.Rank()))
}

// moduleVersion returns the version of module path linked into this binary.
func moduleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, m := range info.Deps {
		if m.Path == path {
			return m.Version
		}
	}
	return "unknown"
}
