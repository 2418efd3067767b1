package search

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset/sample"
	"github.com/splitnas/splitnas/hw"
)

// sampleNSGA2 is a tiny NSGA2 search on the embedded MIT-BIH sample.
func sampleNSGA2(t *testing.T) Config {
	t.Helper()
	d, err := sample.Load()
	if err != nil {
		t.Fatal(err)
	}
	prof, err := hw.Load("stm32l476")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(len(d.Classes))
	cfg.Strategy, cfg.Profile = NSGA2, prof
	cfg.Space = arch.DefaultSpace(len(d.Classes))
	cfg.Space.InputLength, cfg.Space.InputChannels, cfg.Space.Slots = d.Length, d.Channels, 4
	cfg.Population, cfg.Generations, cfg.Train.Epochs = 5, 3, 1
	cfg.EnergyLimitMJ = 0.1
	cfg.Seed = 7
	return cfg
}

// On the embedded sample, an NSGA2 search gives the same result.json for
// 1 and 2 workers, and a search interrupted after its first generation
// and resumed gives the same result as the uninterrupted one.
func TestNSGA2Sample(t *testing.T) {
	d, err := sample.Load()
	if err != nil {
		t.Fatal(err)
	}
	var runs []*Result
	for _, w := range []int{1, 2} {
		cfg := sampleNSGA2(t)
		cfg.Workers, cfg.Dir = w, t.TempDir()
		r, err := Run(context.Background(), cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		if r.Pareto == nil || len(r.Pareto.Members) == 0 {
			t.Fatalf("no Pareto set: %+v", r.Pareto)
		}
		runs = append(runs, timeless(r))
	}
	if !reflect.DeepEqual(runs[0], runs[1]) {
		t.Fatalf("1 and 2 workers differ:\n%+v\n%+v", runs[0].Pareto, runs[1].Pareto)
	}

	cfg := sampleNSGA2(t)
	cfg.Dir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cfg.OnGeneration = func(g Generation) {
		if g.Index == 0 {
			cancel()
		}
	}
	_, err = Run(ctx, cfg, d)
	cancel()
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Finished != 1 {
		t.Fatalf("interrupted run: %v", err)
	}
	cfg.OnGeneration, cfg.Resume, cfg.Workers = nil, true, 2
	r, err := Run(context.Background(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := timeless(r); !reflect.DeepEqual(got.Pareto, runs[0].Pareto) || !reflect.DeepEqual(got.Candidates, runs[0].Candidates) ||
		!reflect.DeepEqual(got.Best, runs[0].Best) {
		t.Errorf("resumed run differs:\n%+v\n%+v", got.Pareto, runs[0].Pareto)
	}
}
