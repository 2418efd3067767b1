package nn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/splitnas/splitnas/dataset"
)

const benchSamples = 4000

// benchTrainer returns a trainer of the typical network and 4,000 random
// 1×2048 samples, warmed up by one epoch.
func benchTrainer(b *testing.B, seed uint64) (*trainer, *dataset.Dataset) {
	return benchTrainerWith(b, seed, func(*Config, *dataset.Dataset) {})
}

// benchTrainerWith is benchTrainer with the configuration changed by set,
// which may read the data.
func benchTrainerWith(b *testing.B, seed uint64, set func(*Config, *dataset.Dataset)) (*trainer, *dataset.Dataset) {
	net := typicalNet(b)
	d := randomData(benchSamples, net.Input(), net.Classes(), seed)
	cfg := DefaultConfig()
	cfg.Seed = seed
	set(&cfg, d)
	m, err := NewModel(net, seed)
	if err != nil {
		b.Fatal(err)
	}
	t := newTrainer(m, d, cfg)
	if _, _, err := t.epoch(context.Background(), d); err != nil {
		b.Fatal(err)
	}
	return t, d
}

// BenchmarkEpochTypical is one training epoch (4,000 samples, batch 32) of
// 2048x1-128x2-8x4-64x2-5.
func BenchmarkEpochTypical(b *testing.B) {
	t, d := benchTrainer(b, 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := t.epoch(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchSamples*b.N)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkEpochTypicalRecipe is BenchmarkEpochTypical with parts of the
// training recipe on: "augment" every augmentation, "teacher" a teacher's
// soft targets with class weights, cosine schedule and weight decay,
// "batch-norm" batch normalisation (the batch-wide passes). Their cost
// over BenchmarkEpochTypical is what the recipe adds.
func BenchmarkEpochTypicalRecipe(b *testing.B) {
	for _, bc := range []struct {
		name string
		set  func(*Config, *dataset.Dataset)
	}{
		{"augment", func(c *Config, _ *dataset.Dataset) {
			c.AugmentShift, c.AugmentScale, c.AugmentWander, c.AugmentNoise = 64, 0.2, 0.3, 0.1
		}},
		{"augment-no-noise", func(c *Config, _ *dataset.Dataset) {
			c.AugmentShift, c.AugmentScale, c.AugmentWander = 64, 0.2, 0.3
		}},
		{"teacher", func(c *Config, d *dataset.Dataset) {
			teacher, err := NewModel(typicalNet(b), 9)
			if err != nil {
				b.Fatal(err)
			}
			if c.Teacher, err = TeacherTargets(teacher, d, 4); err != nil {
				b.Fatal(err)
			}
			c.ClassBalance, c.Schedule, c.WarmupEpochs, c.WeightDecay = BalanceWeights, ScheduleCosine, 1, 0.05
		}},
		{"batch-norm", func(c *Config, _ *dataset.Dataset) { c.BatchNorm = true }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			t, d := benchTrainerWith(b, 1, bc.set)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := t.epoch(ctx, d); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(benchSamples*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkEpochTypicalParallel2 trains two models at once, each on its own
// data in its own goroutine; one op is one epoch of both. Its samples/s
// over BenchmarkEpochTypical's is the 2-model throughput ratio.
func BenchmarkEpochTypicalParallel2(b *testing.B) {
	t1, d1 := benchTrainer(b, 1)
	t2, d2 := benchTrainer(b, 2)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var wg sync.WaitGroup
		for _, job := range []struct {
			t *trainer
			d *dataset.Dataset
		}{{t1, d1}, {t2, d2}} {
			wg.Go(func() {
				if _, _, err := job.t.epoch(ctx, job.d); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(2*benchSamples*b.N)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkLayer times one sample's forward and backward pass through each
// layer of the typical network (the first layer's backward pass computes
// no input gradient, as in training).
func BenchmarkLayer(b *testing.B) {
	net := typicalNet(b)
	p, _ := newPlan(net)
	rng := rand.New(rand.NewPCG(1, 1))
	params := make([]float32, p.nParams)
	initParams(p, params, rng)
	grads := make([]float32, p.nParams)
	for i := range p.layers {
		g := &p.layers[i]
		x, y := make([]float32, g.inSize()), make([]float32, g.outSize())
		for j := range x {
			x[j] = float32(rng.NormFloat64())
		}
		for j := range y {
			y[j] = float32(rng.NormFloat64())
		}
		var dx []float32
		if i > 0 {
			dx = make([]float32, g.inSize())
		}
		name := fmt.Sprintf("%d-%v-%vto%v", i+1, g.kind, net.Layers[i].In, net.Layers[i].Out)
		b.Run(name+"/forward", func(b *testing.B) {
			for b.Loop() {
				forward(g, params, x, y)
			}
		})
		b.Run(name+"/backward", func(b *testing.B) {
			for b.Loop() {
				backward(g, params, x, y, grads, dx)
			}
		})
	}
}

// BenchmarkAdamTypical is one Adam step over the typical network's 877
// parameters.
func BenchmarkAdamTypical(b *testing.B) {
	p, _ := newPlan(typicalNet(b))
	params, grads := make([]float32, p.nParams), make([]float32, p.nParams)
	for i := range grads {
		grads[i] = 1e-3 * float32(i%7)
	}
	a := newAdam(1e-3, p.nParams)
	for b.Loop() {
		a.step(params, grads)
	}
}
