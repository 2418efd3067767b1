package nn

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestMaskHoldsZeros: parameters a mask drops are 0 from the start and
// exactly 0 after training — with weight decay, batch normalisation
// (folded) and quantization-aware training too — while the others train;
// a mask of the wrong length is refused.
func TestMaskHoldsZeros(t *testing.T) {
	net := toyNet(t)
	d := sinusoids(60, 256, 1)
	init, _ := NewModel(net, 2)
	// Half the weights, as pruning masks them (biases kept: with batch
	// normalisation folding gives them values anyway).
	mask := make([]bool, len(init.Params()))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range mask {
		mask[i] = true
	}
	for _, g := range init.plan.layers {
		for j := range g.nw {
			mask[g.wOff+j] = rng.IntN(2) == 0
		}
	}
	for _, tt := range []struct {
		name string
		edit func(*Config)
	}{
		{"plain", func(*Config) {}},
		{"weight decay", func(c *Config) { c.WeightDecay = 0.1 }},
		{"batch norm", func(c *Config) { c.BatchNorm = true }},
		{"qat int8", func(c *Config) { c.QATBits = 8 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Epochs, cfg.Init, cfg.Mask = 3, init, mask
			tt.edit(&cfg)
			res, err := Native().Train(context.Background(), net, d, nil, cfg)
			if err != nil {
				t.Fatal(err)
			}
			changed := 0
			for i, v := range res.Model.Params() {
				switch {
				case !mask[i] && v != 0:
					t.Fatalf("parameter %d is masked but %g after training", i, v)
				case mask[i] && v != init.Params()[i]:
					changed++
				}
			}
			if changed == 0 {
				t.Error("no unmasked parameter changed: nothing trained")
			}
		})
	}
	cfg := DefaultConfig()
	cfg.Mask = mask[1:]
	var ce *ConfigError
	if _, err := Native().Train(context.Background(), net, d, nil, cfg); !errors.As(err, &ce) || ce.Field != "Mask" {
		t.Errorf("short mask: %v, want a ConfigError for Mask", err)
	}
}
