package nn

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
)

func TestMacroF1(t *testing.T) {
	// Class 0: TP 5, FN 1, FP 2 → F1 10/13. Class 1: TP 3, FN 2, FP 1 →
	// F1 6/9. Class 2 never occurs nor is predicted: left out of the mean.
	c := [][]int{{5, 1, 0}, {2, 3, 0}, {0, 0, 0}}
	want := (10.0/13 + 6.0/9) / 2
	if got := macroF1(c); math.Abs(got-want) > 1e-12 {
		t.Errorf("macroF1 = %.12f, want %.12f", got, want)
	}
	// A class predicted but absent counts, with F1 0.
	c = [][]int{{4, 0, 1}, {0, 5, 0}, {0, 0, 0}}
	want = (8.0/9 + 1 + 0) / 3
	if got := macroF1(c); math.Abs(got-want) > 1e-12 {
		t.Errorf("macroF1 = %.12f, want %.12f", got, want)
	}
	if got := macroF1([][]int{{0, 0}, {0, 0}}); got != 0 {
		t.Errorf("macroF1 of nothing = %g, want 0", got)
	}
}

// identityModel is a 3×1 → 3 Dense model with identity weights: its logits
// are its input, so its predictions and loss are known.
func identityModel(t *testing.T) *Model {
	net := mustNet(t, dense(arch.Shape{Len: 3, Ch: 1}, arch.Shape{Len: 3, Ch: 1}))
	m, err := NewModel(net, 1)
	if err != nil {
		t.Fatal(err)
	}
	w, b := m.Weights(0)
	clear(w)
	clear(b)
	w[0], w[4], w[8] = 1, 1, 1
	m.Classes = []string{"a", "b", "c"}
	return m
}

func TestEvaluate(t *testing.T) {
	m := identityModel(t)
	d := dataset.New([]string{"a", "b", "c"}, 1, 3)
	samples := []struct {
		x     []float32
		label int
	}{
		{[]float32{2, 0, 0}, 0}, // right
		{[]float32{0, 3, 0}, 1}, // right
		{[]float32{0, 1, 0}, 0}, // predicted b
		{[]float32{0, 0, 1}, 2}, // right
	}
	var loss float64
	for _, s := range samples {
		if err := d.Add(s.x, s.label, "r"); err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, v := range s.x {
			sum += math.Exp(float64(v))
		}
		loss += math.Log(sum) - float64(s.x[s.label])
	}
	got, err := Evaluate(m, d)
	if err != nil {
		t.Fatal(err)
	}
	if got.Accuracy != 0.75 || got.Samples != 4 {
		t.Errorf("accuracy %g over %d samples, want 0.75 over 4", got.Accuracy, got.Samples)
	}
	if want := loss / 4; math.Abs(got.Loss-want) > 1e-6 {
		t.Errorf("loss %g, want %g", got.Loss, want)
	}
	wantConf := [][]int{{1, 1, 0}, {0, 1, 0}, {0, 0, 1}}
	for i := range wantConf {
		if !slices.Equal(got.Confusion[i], wantConf[i]) {
			t.Fatalf("confusion %v, want %v", got.Confusion, wantConf)
		}
	}
	// a: F1 2/3; b: TP 1, FP 1 → 2/3; c: 1.
	if want := (2.0/3 + 2.0/3 + 1) / 3; math.Abs(got.MacroF1-want) > 1e-12 {
		t.Errorf("macro F1 %g, want %g", got.MacroF1, want)
	}
	// Recalls a 1/2, b 1, c 1; precisions a 1, b 1/2, c 1.
	if want := (0.5 + 1 + 1) / 3; math.Abs(got.BalancedAccuracy-want) > 1e-12 {
		t.Errorf("balanced accuracy %g, want %g", got.BalancedAccuracy, want)
	}
	wantPC := []ClassScores{
		{Class: "a", Support: 2, Predicted: 1, Sensitivity: 0.5, PositivePredictivity: 1, F1: 2.0 / 3},
		{Class: "b", Support: 1, Predicted: 2, Sensitivity: 1, PositivePredictivity: 0.5, F1: 2.0 / 3},
		{Class: "c", Support: 1, Predicted: 1, Sensitivity: 1, PositivePredictivity: 1, F1: 1},
	}
	if !slices.Equal(got.PerClass, wantPC) {
		t.Errorf("per class %+v, want %+v", got.PerClass, wantPC)
	}
	if p := m.Predict([]float32{0, 0, 5}); p != 2 {
		t.Errorf("Predict = %d, want 2", p)
	}

	empty := dataset.New([]string{"a", "b", "c"}, 1, 3)
	if got, err := Evaluate(m, empty); err != nil || got.Accuracy != 0 || got.Loss != 0 || got.Samples != 0 {
		t.Errorf("empty dataset: %+v, %v; want zero metrics, no error", got, err)
	}
}

func TestEvaluateErrors(t *testing.T) {
	m := identityModel(t)
	good := func() *dataset.Dataset {
		d := dataset.New([]string{"a", "b", "c"}, 1, 3)
		d.Add([]float32{1, 2, 3}, 1, "r")
		return d
	}
	tests := []struct {
		name   string
		modify func(d *dataset.Dataset) *dataset.Dataset
		want   string
	}{
		{"nil", func(*dataset.Dataset) *dataset.Dataset { return nil }, "no evaluation data"},
		{"shape", func(d *dataset.Dataset) *dataset.Dataset { d.Length, d.Channels = 1, 3; return d }, "samples of 1x3 (length×channels), network input is 3x1"},
		{"classes", func(d *dataset.Dataset) *dataset.Dataset { d.Classes = d.Classes[:2]; return d }, "2 classes"},
		{"names", func(d *dataset.Dataset) *dataset.Dataset { d.Classes = []string{"a", "c", "b"}; return d }, "classes [a c b], model has [a b c]"},
		{"label", func(d *dataset.Dataset) *dataset.Dataset { d.Labels[0] = 7; return d }, "label 7"},
		{"values", func(d *dataset.Dataset) *dataset.Dataset { d.X = d.X[:2]; return d }, "2 values for 1 samples"},
		{"splits", func(d *dataset.Dataset) *dataset.Dataset { d.Splits = nil; return d }, "evaluation data: "},
	}
	for _, tt := range tests {
		d := tt.modify(good())
		_, err := Evaluate(m, d)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
		// An invalid dataset is refused with Dataset.Validate's own error.
		if d != nil {
			if verr := d.Validate(); verr != nil && (err == nil || !strings.Contains(err.Error(), verr.Error())) {
				t.Errorf("%s: error %v, want it to include Validate's %q", tt.name, err, verr)
			}
		}
	}
}
