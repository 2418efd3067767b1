package nn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/splitnas/splitnas/dataset"
)

// TestAugmenter checks each part of the augmentation alone on a 2×64
// sample over 2,000 draws: what it may change, the range of its random
// values, and that the input is never written.
func TestAugmenter(t *testing.T) {
	const n, ch, draws = 64, 2, 2000
	x := make([]float32, n*ch)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.7) + 0.1*float64(i%5))
	}
	orig := slices.Clone(x)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"shift", Config{AugmentShift: 5}},
		{"scale", Config{AugmentScale: 0.2}},
		{"wander", Config{AugmentWander: 0.3}},
		{"noise", Config{AugmentNoise: 0.1}},
	}
	shifts := map[int]int{}
	var noise []float64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAugmenter(tt.cfg, n, ch)
			b := newAugmenter(tt.cfg, n, ch)
			for range draws {
				y := a.apply(x)
				if !slices.Equal(y, b.apply(x)) {
					t.Fatal("two augmenters with the same seed differ")
				}
				switch tt.name {
				case "shift":
					// y[c][t] = x[c][(t − s) mod n] for one s in [−5, 5], the
					// same for both channels.
					found := false
					for s := -5; s <= 5 && !found; s++ {
						ok := true
						for c := range ch {
							for u := range n {
								if y[c*n+u] != x[c*n+((u-s)%n+n)%n] {
									ok = false
								}
							}
						}
						if ok {
							shifts[s]++
							found = true
						}
					}
					if !found {
						t.Fatalf("output is no circular shift of at most 5 of the input: %v", y)
					}
				case "scale":
					g := float64(y[0]) / float64(x[0])
					if g < 0.8-1e-6 || g > 1.2+1e-6 {
						t.Fatalf("scale %g outside [0.8, 1.2]", g)
					}
					for i := range y {
						if math.Abs(float64(y[i])-g*float64(x[i])) > 1e-5 {
							t.Fatalf("value %d: %g, not %g × %g", i, y[i], g, x[i])
						}
					}
				case "wander":
					// The added wander is at most 0.3 and at most 2 cycles per
					// window: its slope is below 0.3·2π·2/64 per sample.
					for c := range ch {
						for u := range n {
							d := float64(y[c*n+u] - x[c*n+u])
							if math.Abs(d) > 0.3+1e-6 {
								t.Fatalf("wander %g beyond 0.3", d)
							}
							if u > 0 {
								prev := float64(y[c*n+u-1] - x[c*n+u-1])
								if math.Abs(d-prev) > 0.3*2*math.Pi*2/n+1e-6 {
									t.Fatalf("wander changes by %g in one sample: faster than 2 cycles per window", d-prev)
								}
							}
						}
					}
				case "noise":
					for i := range y {
						noise = append(noise, float64(y[i]-x[i]))
					}
				}
			}
			if !slices.Equal(x, orig) {
				t.Fatal("augmentation wrote its input")
			}
		})
	}
	for s := -5; s <= 5; s++ {
		// 2,000 draws over 11 shifts: 182 expected, standard deviation 13.
		if shifts[s] < 120 {
			t.Errorf("shift %d drawn %d times in %d, want about %d", s, shifts[s], draws, draws/11)
		}
	}
	var mean, sq float64
	for _, v := range noise {
		mean += v
		sq += v * v
	}
	mean /= float64(len(noise))
	sd := math.Sqrt(sq/float64(len(noise)) - mean*mean)
	// 256,000 values: the mean's standard error is 2e-4, the sd's 1.4e-4.
	if math.Abs(mean) > 1e-3 || math.Abs(sd-0.1) > 1e-3 {
		t.Errorf("noise mean %.5f, sd %.5f; want 0 and 0.1 ± 0.001", mean, sd)
	}
}

// TestAddSine compares the interleaved rotations with math.Sin, on
// lengths with every remainder modulo 4.
func TestAddSine(t *testing.T) {
	for _, n := range []int{4096, 4093, 4094, 4095, 3, 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			y := make([]float32, n)
			for i := range y {
				y[i] = 0.5
			}
			step := 2 * math.Pi * 1.7 / float64(n)
			addSine(y, 0.7, 1.3, step)
			for i, v := range y {
				if want := 0.5 + 0.7*math.Sin(1.3+float64(i)*step); math.Abs(float64(v)-want) > 1e-6 {
					t.Fatalf("y[%d] = %g, want %g", i, v, want)
				}
			}
		})
	}
}

// fullRecipe turns on every part of the training recipe.
func fullRecipe(cfg Config) Config {
	cfg.ClassBalance, cfg.Select = BalanceWeights, SelectBalanced
	cfg.Schedule, cfg.WarmupEpochs, cfg.WeightDecay = ScheduleCosine, 1, 0.05
	cfg.AugmentShift, cfg.AugmentScale, cfg.AugmentWander, cfg.AugmentNoise = 16, 0.2, 0.3, 0.1
	return cfg
}

// TestAugmentationLeavesDataAlone trains with every augmentation on, for
// each class-balancing method: the training, validation and test data
// must be bit-identical afterwards, and the validation figures of every
// epoch must be those of an un-augmented pass (the best epoch's equal a
// fresh Evaluate). Augmentation must also change the training.
func TestAugmentationLeavesDataAlone(t *testing.T) {
	net := toyNet(t)
	d := sinusoids(240, 256, 1)
	for i := range d.Splits {
		d.Splits[i] = dataset.Split(i % 3)
	}
	before := slices.Clone(d.X)
	for _, balance := range []ClassBalance{BalanceNone, BalanceWeights, BalanceSampler} {
		t.Run(balance.String(), func(t *testing.T) {
			cfg := fullRecipe(DefaultConfig())
			cfg.Epochs, cfg.ClassBalance = 4, balance
			train, val, test := d.Part(dataset.Train), d.Part(dataset.Val), d.Part(dataset.Test)
			parts := []*dataset.Dataset{train, val, test}
			saved := make([][]float32, len(parts))
			for i, p := range parts {
				saved[i] = slices.Clone(p.X)
			}
			res, err := Native().Train(context.Background(), net, train, val, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range parts {
				if !equalBits(p.X, saved[i]) {
					t.Errorf("%v data changed by training", dataset.Split(i))
				}
			}
			met, err := Evaluate(res.Model, val)
			if err != nil {
				t.Fatal(err)
			}
			best := res.History[res.Best]
			if met.Accuracy != best.ValAcc || met.Loss != best.ValLoss || met.BalancedAccuracy != best.ValBalancedAccuracy {
				t.Errorf("fresh Evaluate: acc %g loss %g balanced %g; recorded %g %g %g",
					met.Accuracy, met.Loss, met.BalancedAccuracy, best.ValAcc, best.ValLoss, best.ValBalancedAccuracy)
			}
			plain := cfg
			plain.AugmentShift, plain.AugmentScale, plain.AugmentWander, plain.AugmentNoise = 0, 0, 0, 0
			res2, err := Native().Train(context.Background(), net, train, val, plain)
			if err != nil {
				t.Fatal(err)
			}
			if res2.History[0].TrainLoss == res.History[0].TrainLoss {
				t.Error("augmentation does not change the training loss")
			}
		})
	}
	if !equalBits(d.X, before) {
		t.Error("the dataset changed")
	}
}

// TestAugmentShiftTooLong checks that a shift as long as the samples is
// refused by Train (Validate cannot know the length).
func TestAugmentShiftTooLong(t *testing.T) {
	net := toyNet(t)
	cfg := DefaultConfig()
	cfg.AugmentShift = 256
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	_, err := Native().Train(context.Background(), net, randomData(10, net.Input(), 3, 1), nil, cfg)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "AugmentShift" {
		t.Errorf("shift 256 on 256-sample windows: %v, want a ConfigError for AugmentShift", err)
	}
	cfg.AugmentShift = 255
	if _, err := Native().Train(context.Background(), net, randomData(10, net.Input(), 3, 1), nil, cfg); err != nil {
		t.Errorf("shift 255: %v", err)
	}
}

// TestRecipeDeterministic trains twice with every part of the recipe on:
// bit-identical runs; another seed differs.
func TestRecipeDeterministic(t *testing.T) {
	net := toyNet(t)
	train, val := sinusoids(120, 256, 1), sinusoids(60, 256, 2)
	runs := make([]*Result, 3)
	for i, seed := range []uint64{3, 3, 4} {
		cfg := fullRecipe(DefaultConfig())
		cfg.Epochs, cfg.Seed, cfg.Dropout, cfg.ClassBalance = 3, seed, 0.2, BalanceSampler
		res, err := Native().Train(context.Background(), net, train, val, cfg)
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = res
	}
	if !sameRun(runs[0], runs[1]) {
		t.Error("two runs with the same seed differ")
	}
	if equalBits(runs[0].Model.Params(), runs[2].Model.Params()) {
		t.Error("another seed gives the same weights")
	}
}
