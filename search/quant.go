package search

import (
	"fmt"

	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant"
)

// QuantMethod is how a search on an integer profile turns a candidate
// into the integer network it scores.
type QuantMethod string

const (
	// QAT trains every candidate quantization-aware (nn.Config.QATBits)
	// and quantizes it with the ranges the training tracked.
	QAT QuantMethod = "qat"
	// PTQ trains in float and quantizes after training, calibrating the
	// activation ranges (min-max) on PTQSamples training samples drawn
	// with the search seed.
	PTQ QuantMethod = "ptq"
)

// PTQSamples is the number of training samples PTQ calibrates on (all of
// them if the split has fewer).
const PTQSamples = 500

// ParseQuantMethod accepts "qat" and "ptq".
func ParseQuantMethod(s string) (QuantMethod, error) {
	switch m := QuantMethod(s); m {
	case QAT, PTQ:
		return m, nil
	}
	return "", fmt.Errorf("unknown quantization method %q (want qat or ptq)", s)
}

// weightBits returns the weight bits of the profile's edge precision: 0
// for float32, 8 or 4 for the integer precisions package quant runs (int8
// activations), and an error for any other.
func (c Config) weightBits() (int, error) {
	p := c.Profile.Edge.Precision()
	switch {
	case p.WeightBits == 32 && p.ActBits == 32:
		return 0, nil
	case (p.WeightBits == 8 || p.WeightBits == 4) && p.ActBits == 8:
		return p.WeightBits, nil
	}
	return 0, fmt.Errorf("edge precision %s (%d-bit weights, %d-bit activations): the search trains float32, int8 or int4 weights with int8 activations", p.Name, p.WeightBits, p.ActBits)
}

// deploy returns the integer network of a trained candidate (nil on a
// float profile): quantized with the ranges QAT tracked, or calibrated
// after training.
func (s *searcher) deploy(res *nn.Result) (*quant.Model, error) {
	if s.bits == 0 {
		return nil, nil
	}
	if s.quant == QAT {
		return quant.FromFloat(res.Model, res.Ranges, s.bits)
	}
	return quant.PostTraining(res.Model, s.calib, quant.MinMax, s.bits)
}

// assess returns a training run's validation scores on halves A and B, as
// deployed: with a float profile the float model's (half A at the chosen
// epoch), with an integer one its integer network's, run in integer
// arithmetic; and that network (nil for float).
func (s *searcher) assess(res *nn.Result) (scores, *quant.Model, error) {
	if s.bits == 0 {
		sc, err := s.scores(res)
		return sc, nil, err
	}
	qm, err := s.deploy(res)
	if err != nil {
		return scores{}, nil, err
	}
	ma, err := quant.Evaluate(qm, s.valA)
	if err != nil {
		return scores{}, nil, err
	}
	mb, err := quant.Evaluate(qm, s.valB)
	if err != nil {
		return scores{}, nil, err
	}
	return scores{a: s.metric(ma), b: s.metric(mb), lossA: ma.Loss, lossB: mb.Loss}, qm, nil
}
