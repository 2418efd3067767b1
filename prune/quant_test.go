package prune

import (
	"math"
	"testing"

	"github.com/splitnas/splitnas/internal/testenv"
	"github.com/splitnas/splitnas/quant"
)

// TestMagnitudeQuantized prunes an int8 model directly: round(s·N) of its
// N weights become 0, the smallest in real magnitude, nothing else
// changes, and the original is left alone.
func TestMagnitudeQuantized(t *testing.T) {
	m := model(t, 3)
	d := testenv.Waves(t, 40)
	for _, bits := range []int{8, 4} {
		q, err := quant.PostTraining(m, d, quant.MinMax, bits)
		if err != nil {
			t.Fatal(err)
		}
		before := 0
		for _, l := range q.Layers {
			for _, w := range l.W {
				if w == 0 {
					before++
				}
			}
		}
		p, err := MagnitudeQuantized(q, 0.6, Global)
		if err != nil {
			t.Fatal(err)
		}
		total, zeros := 0, 0
		maxDropped, minKept := 0.0, math.Inf(1)
		for i, l := range p.Layers {
			ql := q.Layers[i]
			per := len(l.W) / l.Rows()
			for j, w := range l.W {
				real := math.Abs(float64(ql.W[j]) * float64(ql.WScale[j/per]))
				total++
				switch {
				case w == 0:
					zeros++
					maxDropped = max(maxDropped, real)
				case w != ql.W[j]:
					t.Fatalf("int%d layer %d weight %d changed %d → %d", bits, i+1, j, ql.W[j], w)
				default:
					minKept = min(minKept, real)
				}
			}
			if &l.W[0] == &ql.W[0] {
				t.Fatalf("int%d layer %d: the pruned model shares its weights with the original", bits, i+1)
			}
		}
		if want := int(math.Round(0.6 * float64(total))); zeros != max(want, before) {
			t.Errorf("int%d: %d of %d weights are 0, want %d", bits, zeros, total, max(want, before))
		}
		if maxDropped > minKept {
			t.Errorf("int%d: a dropped weight (|w| = %g) is larger than a kept one (%g)", bits, maxDropped, minKept)
		}
		again := 0
		for _, l := range q.Layers {
			for _, w := range l.W {
				if w == 0 {
					again++
				}
			}
		}
		if again != before {
			t.Errorf("int%d: the original model lost weights (%d zeros, was %d)", bits, again, before)
		}
	}
	if _, err := MagnitudeQuantized(nil, 1.5, Global); err == nil {
		t.Error("sparsity 1.5 accepted")
	}
}
