// Package trainbench measures how fast a training engine trains one
// architecture on random data: the median epoch time, and the throughput of
// several trainings running at once (the search trains candidates in
// parallel, one per core).
package trainbench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/internal/stats"
	"github.com/splitnas/splitnas/nn"
)

// Options set up a benchmark run.
type Options struct {
	Samples  int    // training samples (random, standard normal values)
	Batch    int    // mini-batch size
	Epochs   int    // epochs per training run
	Parallel int    // trainings at once in the parallel run; ≤ 1 skips it
	Seed     uint64 // data and training seed
}

// Report is what a benchmark run measured.
type Report struct {
	Engine          string    `json:"engine"`
	Arch            string    `json:"arch"`
	Params          int       `json:"params"`
	MACs            int       `json:"macs"`
	Samples         int       `json:"samples"`
	Batch           int       `json:"batch"`
	Epochs          int       `json:"epochs"`
	EpochSeconds    float64   `json:"epoch_seconds"`     // median over the epochs of the single run
	EpochSecondsAll []float64 `json:"epoch_seconds_all"` // every epoch of the single run
	SamplesPerSec   float64   `json:"samples_per_second"`
	// Parallel run: Parallel trainings at once, each on its own data.
	Parallel            int     `json:"parallel,omitempty"`
	ParallelSamplesPerS float64 `json:"parallel_samples_per_second,omitempty"`
	ParallelSpeedup     float64 `json:"parallel_speedup,omitempty"` // parallel throughput ÷ single throughput
}

// RandomData returns n samples of the network's input shape with standard
// normal values and uniformly random labels, all in the train split.
func RandomData(net arch.Network, n int, seed uint64) *dataset.Dataset {
	in := net.Input()
	classes := make([]string, net.Classes())
	for i := range classes {
		classes[i] = fmt.Sprint("c", i)
	}
	d := dataset.New(classes, in.Ch, in.Len)
	rng := dataset.NewRand(seed)
	d.X = make([]float32, n*in.Size())
	for i := range d.X {
		d.X[i] = float32(rng.NormFloat64())
	}
	d.Labels = make([]uint8, n)
	d.Splits = make([]dataset.Split, n)
	d.Records = make([]string, n)
	for i := range d.Labels {
		d.Labels[i] = uint8(rng.IntN(len(classes)))
		d.Records[i] = "random"
	}
	return d
}

// Run trains net with the engine on random data and reports the timings.
func Run(ctx context.Context, e nn.Engine, net arch.Network, opt Options) (Report, error) {
	if opt.Samples < 1 || opt.Batch < 1 || opt.Epochs < 1 {
		return Report{}, fmt.Errorf("trainbench: samples %d, batch %d, epochs %d: each must be at least 1", opt.Samples, opt.Batch, opt.Epochs)
	}
	cfg := nn.DefaultConfig()
	cfg.Epochs, cfg.Batch, cfg.Seed = opt.Epochs, opt.Batch, opt.Seed
	rep := Report{Engine: e.Name(), Arch: net.String(), Params: net.Params(), MACs: net.MACs(),
		Samples: opt.Samples, Batch: opt.Batch, Epochs: opt.Epochs}

	res, err := e.Train(ctx, net, RandomData(net, opt.Samples, opt.Seed), nil, cfg)
	if err != nil {
		return Report{}, err
	}
	for _, ep := range res.History {
		rep.EpochSecondsAll = append(rep.EpochSecondsAll, ep.Seconds)
	}
	rep.EpochSeconds = stats.Median(rep.EpochSecondsAll)
	rep.SamplesPerSec = float64(opt.Samples) / rep.EpochSeconds

	if opt.Parallel > 1 {
		rep.Parallel = opt.Parallel
		var wg sync.WaitGroup
		errs := make([]error, opt.Parallel)
		data := make([]*dataset.Dataset, opt.Parallel)
		for i := range data {
			data[i] = RandomData(net, opt.Samples, opt.Seed+uint64(i)+1)
		}
		start := time.Now()
		for i := range opt.Parallel {
			wg.Go(func() {
				c := cfg
				c.Seed = opt.Seed + uint64(i) + 1
				_, errs[i] = e.Train(ctx, net, data[i], nil, c)
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return Report{}, err
			}
		}
		total := float64(opt.Parallel * opt.Samples * opt.Epochs)
		rep.ParallelSamplesPerS = total / time.Since(start).Seconds()
		// Compare with the single run's mean (not median) throughput, as the
		// parallel figure is a mean over all epochs too.
		single := float64(opt.Samples*opt.Epochs) / sum(rep.EpochSecondsAll)
		rep.ParallelSpeedup = rep.ParallelSamplesPerS / single
	}
	return rep, nil
}

func sum(xs []float64) float64 {
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t
}
