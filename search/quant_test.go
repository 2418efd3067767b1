package search

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/quant"
)

// intConfig is smallConfig on the default profile made integer: weights of
// bits bits, int8 activations.
func intConfig(t *testing.T, bits int) Config {
	cfg := smallConfig(t)
	cfg.Profile.Name += "-test-int"
	cfg.Profile.Edge.BytesPerWeight = float64(bits) / 8
	cfg.Profile.Edge.BytesPerActivation = 1
	return cfg
}

// TestQuantizedSearch checks a search on an integer profile: the winner is
// scored and saved as its integer network, costed at the profile's
// precision, with the float weights' test score beside it; the result does
// not depend on the number of workers.
func TestQuantizedSearch(t *testing.T) {
	d := waves(t)
	for _, tc := range []struct {
		bits   int
		method QuantMethod
		prec   arch.Precision
	}{
		{8, QAT, arch.Int8()},
		{4, PTQ, arch.Int4()},
	} {
		t.Run(tc.prec.Name+"/"+string(tc.method), func(t *testing.T) {
			cfg := intConfig(t, tc.bits)
			cfg.Quant, cfg.Dir, cfg.FinalEpochs, cfg.FinalSeeds = tc.method, t.TempDir(), 3, 2
			r, err := Run(context.Background(), cfg, d)
			if err != nil {
				t.Fatal(err)
			}
			b := r.Best
			if b.Precision != tc.prec.Name || b.Quantized == nil || b.Quantized.Method != string(tc.method) ||
				b.Quantized.WeightBits != tc.bits || r.Settings.Precision != tc.prec.Name || r.Settings.Quant != string(tc.method) {
				t.Fatalf("precision %q, quantized %+v, settings %q %q", b.Precision, b.Quantized, r.Settings.Precision, r.Settings.Quant)
			}
			net, err := arch.Parse(b.Arch, cfg.Space.Kernel)
			if err != nil {
				t.Fatal(err)
			}
			if want := net.Flash(b.Partition, tc.prec); b.FlashBytes != want {
				t.Errorf("Flash %d, want arch's %s Flash(%d) = %d", b.FlashBytes, tc.prec.Name, b.Partition, want)
			}
			if want := net.RAM(b.Partition, tc.prec); b.RAMBytes != want {
				t.Errorf("RAM %d, want arch's %s RAM(%d) = %d", b.RAMBytes, tc.prec.Name, b.Partition, want)
			}
			qm, err := quant.LoadFile(filepath.Join(cfg.Dir, b.Quantized.Model))
			if err != nil {
				t.Fatal(err)
			}
			met, err := quant.Evaluate(qm, d.Part(dataset.Test))
			if err != nil {
				t.Fatal(err)
			}
			if met.Accuracy != b.TestAccuracy || qm.Bits != tc.bits {
				t.Errorf("saved integer network: test %.4f, %d bits; result: %.4f", met.Accuracy, qm.Bits, b.TestAccuracy)
			}
			t.Logf("%s: %s P=%d test %.3f (float weights %.3f), Flash %d B", tc.prec.Name, b.Arch, b.Partition, b.TestAccuracy, b.Quantized.FloatTestAccuracy, b.FlashBytes)

			cfg.Workers, cfg.Dir = 1, ""
			one, err := Run(context.Background(), cfg, d)
			if err != nil {
				t.Fatal(err)
			}
			r.Best.Model, r.Best.Quantized.Model = "", ""
			for _, b := range []*Best{r.Best, one.Best} {
				for i := range b.Final.Runs {
					b.Final.Runs[i].Seconds = 0
				}
			}
			if !reflect.DeepEqual(one.Best, r.Best) {
				t.Errorf("one worker gives another winner or scores:\n%+v\n%+v", one.Best, r.Best)
			}
		})
	}
}

func TestQuantizedSearchRefuses(t *testing.T) {
	d := waves(t)
	cfg := intConfig(t, 8)
	cfg.Quant = "kl"
	var ce *ConfigError
	if _, err := Run(context.Background(), cfg, d); !errors.As(err, &ce) || ce.Field != "Quant" {
		t.Errorf("Quant kl: %v, want a ConfigError on Quant", err)
	}
	cfg = intConfig(t, 8)
	cfg.Profile.Edge.BytesPerActivation = 0.5 // int4 activations: not a scheme quant runs
	if _, err := Run(context.Background(), cfg, d); !errors.As(err, &ce) || ce.Field != "Profile" {
		t.Errorf("4-bit activations: %v, want a ConfigError on Profile", err)
	}
}
