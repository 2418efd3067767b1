// Command recipe is the training-recipe ablation of the README: it trains a
// few architectures on dataset files with the default recipe and with each
// recipe choice added alone (and all together), over several seeds, and
// prints the mean and standard deviation of the test accuracy as a
// Markdown table. Each choice is measured as `splitnas train` runs it: the
// best epoch by validation accuracy, then the test split scored once.
//
//	go run ./bench/recipe --data /tmp/mitdb-balanced.snds,/tmp/bonn256-global.snds
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/nn"
)

// variant is one recipe: a name and the change it makes to the default.
type variant struct {
	name string
	edit func(*nn.Config)
}

func variants() []variant {
	aug := func(c *nn.Config) {
		c.AugmentShift, c.AugmentScale, c.AugmentWander, c.AugmentNoise = 64, 0.1, 0.1, 0.05
	}
	cosine := func(c *nn.Config) { c.Schedule, c.WarmupEpochs = nn.ScheduleCosine, 2 }
	return []variant{
		{"default (Adam, lr 1e-3, constant)", func(*nn.Config) {}},
		{"lr 3e-3", func(c *nn.Config) { c.LR = 3e-3 }},
		{"cosine schedule, 2 warm-up epochs", cosine},
		{"weight decay 0.1", func(c *nn.Config) { c.WeightDecay = 0.1 }},
		{"augmentation (shift 64, scale 0.1, wander 0.1, noise 0.05)", aug},
		{"batch norm (folded)", func(c *nn.Config) { c.BatchNorm = true }},
		{"all: lr 3e-3 + cosine + decay + augmentation + batch norm", func(c *nn.Config) {
			c.LR, c.WeightDecay, c.BatchNorm = 3e-3, 0.1, true
			cosine(c)
			aug(c)
		}},
	}
}

// archs are the architectures, without their class count: the typical
// candidate, the README's hand-tuned MIT-BIH network, and a search winner.
const defaultArchs = "2048x1-128x2-8x4-64x2,2048x1-256x4-32x4/o2,2048x1-16x1-16x3-1024x1-128x2-4x4-128x1"

func main() {
	data := flag.String("data", "", "comma-separated dataset files (required)")
	archs := flag.String("archs", defaultArchs, "comma-separated architectures without the class count; a /oN suffix stays last")
	seeds := flag.Int("seeds", 3, "seeds per cell")
	epochs := flag.Int("epochs", 20, "epochs per training")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "trainings at once")
	flag.Parse()
	if *data == "" {
		fmt.Fprintln(os.Stderr, "recipe: --data is required")
		os.Exit(2)
	}
	if err := run(strings.Split(*data, ","), strings.Split(*archs, ","), *seeds, *epochs, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "recipe:", err)
		os.Exit(1)
	}
}

// withClasses puts the class count after the tensors, before a suffix.
func withClasses(a string, classes int) string {
	body, suffix, ok := strings.Cut(a, "/")
	s := fmt.Sprintf("%s-%d", body, classes)
	if ok {
		s += "/" + suffix
	}
	return s
}

type cell struct{ sum, sumSq, n float64 }

func (c cell) String() string {
	if c.n == 0 {
		return "–"
	}
	mean := c.sum / c.n
	sd := math.Sqrt(math.Max(0, c.sumSq/c.n-mean*mean) * c.n / math.Max(1, c.n-1))
	return fmt.Sprintf("%.1f ± %.1f", 100*mean, 100*sd)
}

func run(files, archs []string, seeds, epochs, workers int) error {
	vs := variants()
	type job struct {
		v, col int
		net    arch.Network
		train  *dataset.Dataset
		val    *dataset.Dataset
		test   *dataset.Dataset
		seed   uint64
	}
	var jobs []job
	var cols []string
	for _, f := range files {
		d, err := dataset.Load(f)
		if err != nil {
			return err
		}
		train, val, test := d.Part(dataset.Train), d.Part(dataset.Val), d.Part(dataset.Test)
		for _, a := range archs {
			net, err := arch.Parse(withClasses(a, len(d.Classes)), arch.DefaultKernelRule())
			if err != nil {
				return err
			}
			col := len(cols)
			cols = append(cols, fmt.Sprintf("%s `%s`", filepath.Base(f), net))
			for v := range vs {
				for s := range seeds {
					jobs = append(jobs, job{v, col, net, train, val, test, uint64(s + 1)})
				}
			}
		}
	}
	cells := make([][]cell, len(vs))
	for v := range cells {
		cells[v] = make([]cell, len(cols))
	}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
	)
	next := make(chan job)
	for range workers {
		wg.Go(func() {
			for j := range next {
				cfg := nn.DefaultConfig()
				cfg.Epochs, cfg.Seed = epochs, j.seed
				vs[j.v].edit(&cfg)
				res, err := nn.Native().Train(context.Background(), j.net, j.train, j.val, cfg)
				var acc float64
				if err == nil {
					var m nn.Metrics
					m, err = nn.Evaluate(res.Model, j.test)
					acc = m.Accuracy
				}
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("%s, %s, seed %d: %w", j.net, vs[j.v].name, j.seed, err)
				}
				c := &cells[j.v][j.col]
				c.sum, c.sumSq, c.n = c.sum+acc, c.sumSq+acc*acc, c.n+1
				fmt.Fprintf(os.Stderr, "%s | %s | seed %d: %.4f\n", j.net, vs[j.v].name, j.seed, acc)
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	fmt.Printf("test accuracy %%, mean ± sd over %d seeds, %d epochs\n\n| recipe | %s |\n|---|%s\n", seeds, epochs,
		strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
	for v, row := range cells {
		parts := make([]string, len(row))
		for i, c := range row {
			parts[i] = c.String()
		}
		fmt.Printf("| %s | %s |\n", vs[v].name, strings.Join(parts, " | "))
	}
	return nil
}
