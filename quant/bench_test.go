package quant

import (
	"testing"

	"github.com/splitnas/splitnas/nn"
)

// The integer reference is written for clarity and exactness, not speed:
// these benchmarks measure what it costs against the float engine on the
// typical candidate, one sample at a time (go test -bench . ./quant).

func benchModels(b *testing.B) (*nn.Model, *Model, []float32) {
	fm, err := nn.NewModel(mustParse(b, "2048x1-128x2-8x4-64x2-5"), 1)
	if err != nil {
		b.Fatal(err)
	}
	cal := gaussian(16, fm.Network().Input(), 5, 1)
	qm, err := PostTraining(fm, cal, MinMax, 8)
	if err != nil {
		b.Fatal(err)
	}
	return fm, qm, cal.Sample(0)
}

func BenchmarkFloatLogits(b *testing.B) {
	fm, _, x := benchModels(b)
	out := make([]float32, 5)
	for b.Loop() {
		fm.Logits(x, out)
	}
}

func BenchmarkIntegerPredict(b *testing.B) {
	_, qm, x := benchModels(b)
	for b.Loop() {
		qm.Predict(x)
	}
}

func BenchmarkSimulate(b *testing.B) {
	_, qm, x := benchModels(b)
	q := make([]int8, len(x))
	qm.QuantizeInput(x, q)
	for b.Loop() {
		qm.Simulate(q, 0, len(qm.Layers))
	}
}
