package calib

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
)

// The default profile, whose layer table holds single float32 layers
// measured one per call, predicts whole edge partitions of searched
// networks with kernel overlaps 1 and 2 (search --overlap 1,2), each
// emulated in one image, within 5 % (the target): go test -run
// WholePartitions -v ./calib.
func TestSurrogatePredictsWholePartitions(t *testing.T) {
	wholePartitions(t, Float32, hw.DefaultProfile, []int{1, 2})
}

// The same for int8 networks (TFLite Micro's scheme, the output of each
// layer the next one's input) and the stm32l476-int8 profile, whose layer
// table holds single int8 layers measured one per call, with kernel
// overlaps 1 and 2 (search --overlap 1,2).
func TestSurrogatePredictsWholePartitionsInt8(t *testing.T) {
	wholePartitions(t, Int8, "stm32l476-int8", []int{1, 2})
}

// The same for int4 weights and the stm32l476-int4 profile.
func TestSurrogatePredictsWholePartitionsInt4(t *testing.T) {
	wholePartitions(t, Int4, "stm32l476-int4", []int{1, 2})
}

// wholePartitions emulates random networks of the default search space
// (with the kernel overlap a gene over overlaps, if given), all layers on
// the edge, each in one image at precision p, and compares their cycles
// with the sum of profile's per-layer predictions.
func wholePartitions(t *testing.T, p Precision, profile string, overlaps []int) {
	e := emulator(t)
	prof, err := hw.Load(profile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Precision: p, Table: CortexM4(4)}
	space := arch.DefaultSpace(5)
	space.Overlaps = overlaps
	rng := rand.New(rand.NewPCG(7, 7))
	n := 20
	if testing.Short() {
		n = 5
	}
	var errs []float64
	for range n {
		net, err := space.Decode(space.Random(rng))
		if err != nil {
			t.Fatal(err)
		}
		P := len(net.Layers)
		whole, err := e.MeasureNetwork(context.Background(), cfg, net, P)
		if err != nil {
			t.Fatal(err)
		}
		pred := 0.0
		for _, l := range net.Layers[:P] {
			s, err := prof.Edge.LayerSeconds(l)
			if err != nil {
				t.Fatal(err)
			}
			pred += s * prof.Edge.ClockHz
		}
		rel := (pred - whole.Cycles) / whole.Cycles
		errs = append(errs, math.Abs(rel))
		if math.Abs(rel) > 0.05 {
			t.Errorf("%v: emulated %.0f cycles, surrogate %.0f (%+.2f%%)", net, whole.Cycles, pred, 100*rel)
		}
	}
	slices.Sort(errs)
	t.Logf("%s, %s: %d whole networks: |prediction error| median %.2f%%, max %.2f%%", p, profile, n, 100*errs[n/2], 100*errs[n-1])
}
