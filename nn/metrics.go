package nn

import (
	"fmt"
	"slices"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
)

// Metrics scores a model on a dataset.
type Metrics struct {
	Accuracy float64 `json:"accuracy"` // fraction of samples whose most likely class is the true one
	// BalancedAccuracy is the mean of the per-class sensitivities over the
	// classes with support (at least one sample): on imbalanced data it
	// weighs every class alike, where Accuracy is dominated by the largest.
	// It equals Accuracy when every class has the same support.
	BalancedAccuracy float64       `json:"balanced_accuracy"`
	Loss             float64       `json:"loss"`      // mean softmax cross-entropy
	MacroF1          float64       `json:"macro_f1"`  // unweighted mean of the per-class F1 scores (see Evaluate)
	Confusion        [][]int       `json:"confusion"` // Confusion[true][predicted] counts samples
	PerClass         []ClassScores `json:"per_class"` // one per class, in label order
	Samples          int           `json:"samples"`
}

// ClassScores are one class's scores in the style of AAMI EC57 (the
// standard for arrhythmia detectors): sensitivity Se = TP/(TP+FN) and
// positive predictivity +P = TP/(TP+FP), with the counts behind them.
// A score whose denominator is zero (no sample of the class, or none
// predicted as it) is reported as 0: Support and Predicted tell these
// cases apart from a real 0.
type ClassScores struct {
	Class                string  `json:"class"`                 // the class name, "" if neither model nor data names it
	Support              int     `json:"support"`               // samples of the class: TP + FN
	Predicted            int     `json:"predicted"`             // samples predicted as the class: TP + FP
	Sensitivity          float64 `json:"sensitivity"`           // Se, recall: TP/(TP+FN)
	PositivePredictivity float64 `json:"positive_predictivity"` // +P, precision: TP/(TP+FP)
	F1                   float64 `json:"f1"`                    // 2·TP/(2·TP+FP+FN)
}

// Evaluate runs m on every sample of d. MacroF1 averages F1 = 2·TP/(2·TP +
// FP + FN) over the classes that occur among the true or the predicted
// labels (as scikit-learn does); an empty dataset gives zero metrics. It is
// an error if d is invalid (Dataset.Validate), if its sample shape or class
// count does not fit the model, or if both name their classes and the
// names differ. BalancedAccuracy and PerClass are defined with Metrics
// and ClassScores.
func Evaluate(m *Model, d *dataset.Dataset) (Metrics, error) {
	if err := checkData(m.plan, d, "evaluation"); err != nil {
		return Metrics{}, err
	}
	if m.Classes != nil && d.Classes != nil && !slices.Equal(m.Classes, d.Classes) {
		return Metrics{}, fmt.Errorf("nn: evaluation data has classes %v, model has %v", d.Classes, m.Classes)
	}
	k := m.plan.classes()
	met := Metrics{Confusion: make([][]int, k), Samples: d.Len()}
	for i := range met.Confusion {
		met.Confusion[i] = make([]int, k)
	}
	ws := newWorkspace[float32](m.plan, false, false)
	loss, correct := score(m.plan, m.params, ws, d, met.Confusion)
	if n := d.Len(); n > 0 {
		met.Loss = loss / float64(n)
		met.Accuracy = float64(correct) / float64(n)
	}
	names := d.Classes
	if names == nil {
		names = m.Classes
	}
	met.fill(names)
	return met, nil
}

// ConfusionMetrics returns the metrics of a confusion matrix (rows true
// class, columns predicted, square): Accuracy, BalancedAccuracy, MacroF1
// and PerClass as Evaluate defines them, names naming the classes (nil
// for none). Loss is 0: a confusion matrix does not hold it. It is how
// another runtime of the same network (a quantized one, package quant)
// reports the same scores as Evaluate.
func ConfusionMetrics(confusion [][]int, names []string) Metrics {
	met := Metrics{Confusion: confusion}
	correct := 0
	for c, row := range confusion {
		for j, v := range row {
			met.Samples += v
			if j == c {
				correct += v
			}
		}
	}
	if met.Samples > 0 {
		met.Accuracy = float64(correct) / float64(met.Samples)
	}
	met.fill(names)
	return met
}

// fill sets the scores derived from met.Confusion.
func (met *Metrics) fill(names []string) {
	met.MacroF1 = macroF1(met.Confusion)
	met.BalancedAccuracy = balancedAccuracy(met.Confusion)
	met.PerClass = classScores(met.Confusion, names)
}

// balancedAccuracy is the mean recall TP/(TP+FN) over the classes with
// support in confusion (rows true, columns predicted), 0 if none has.
func balancedAccuracy(confusion [][]int) float64 {
	var sum float64
	var n int
	for c, row := range confusion {
		support := 0
		for _, v := range row {
			support += v
		}
		if support > 0 {
			sum += float64(row[c]) / float64(support)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// classScores returns the ClassScores of every class of confusion; names,
// if not nil, names the classes.
func classScores(confusion [][]int, names []string) []ClassScores {
	out := make([]ClassScores, len(confusion))
	for c := range confusion {
		s := &out[c]
		if c < len(names) {
			s.Class = names[c]
		}
		tp := confusion[c][c]
		for j := range confusion {
			s.Support += confusion[c][j]
			s.Predicted += confusion[j][c]
		}
		if s.Support > 0 {
			s.Sensitivity = float64(tp) / float64(s.Support)
		}
		if s.Predicted > 0 {
			s.PositivePredictivity = float64(tp) / float64(s.Predicted)
		}
		if d := s.Support + s.Predicted; d > 0 { // 2·TP + FP + FN
			s.F1 = 2 * float64(tp) / float64(d)
		}
	}
	return out
}

// score runs every sample of d through the network and returns the summed
// loss and the number classified correctly; if confusion is not nil it
// counts the predictions in it.
func score(p *plan, params []float32, ws *workspace[float32], d *dataset.Dataset, confusion [][]int) (loss float64, correct int) {
	return scoreWith(func(x []float32) []float32 { return ws.forward(p, params, x, false) }, d, confusion)
}

// scoreWith is score with the network's forward pass given as a function
// from a sample to its logits.
func scoreWith(forward func(x []float32) []float32, d *dataset.Dataset, confusion [][]int) (loss float64, correct int) {
	for i := range d.Len() {
		z := forward(d.Sample(i))
		label, pred := int(d.Labels[i]), argmax(z)
		loss += float64(crossEntropy(z, label))
		if pred == label {
			correct++
		}
		if confusion != nil {
			confusion[label][pred]++
		}
	}
	return loss, correct
}

func macroF1(confusion [][]int) float64 {
	var sum float64
	var n int
	for c := range confusion {
		tp, fp, fn := confusion[c][c], 0, 0
		for j := range confusion {
			if j != c {
				fn += confusion[c][j]
				fp += confusion[j][c]
			}
		}
		if tp+fp+fn == 0 {
			continue // class neither present nor predicted
		}
		sum += 2 * float64(tp) / float64(2*tp+fp+fn)
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// checkData reports whether d is a valid dataset (Dataset.Validate) whose
// samples fit the network's input and whose classes its outputs; role
// names d in the error.
func checkData(p *plan, d *dataset.Dataset, role string) error {
	if d == nil {
		return fmt.Errorf("nn: no %s data", role)
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("nn: %s data: %w", role, err)
	}
	g := &p.layers[0]
	in, got := arch.Shape{Len: g.inLen, Ch: g.inCh}, arch.Shape{Len: d.Length, Ch: d.Channels}
	if got != in {
		return fmt.Errorf("nn: %s data has samples of %v (length×channels), network input is %v", role, got, in)
	}
	if k := p.classes(); len(d.Classes) != k {
		return fmt.Errorf("nn: %s data has %d classes %v, network has %d outputs", role, len(d.Classes), d.Classes, k)
	}
	return nil
}
