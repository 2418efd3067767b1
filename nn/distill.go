package nn

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/internal/frame"
)

// SoftTargets are a teacher's temperature-softened class probabilities on
// every sample of one dataset, for knowledge distillation (Hinton, Vinyals
// & Dean 2015, "Distilling the knowledge in a neural network"): row i is
// softmax(z_i/T) of the teacher's logits z_i on sample i. TeacherTargets
// computes them once; a search passes the same *SoftTargets to every
// candidate through Config.Teacher, and training only reads them, so one
// value may serve trainings on several goroutines at once.
//
// The teacher sees the training samples as they are in the dataset,
// without augmentation: with Config's augmentation on, the student learns
// the teacher's view of the original sample from a perturbed copy of it.
type SoftTargets struct {
	temperature float64
	classes     []string // the dataset's class names
	labels      []uint8  // the dataset's labels, to recognise it in Train
	probs       []float32
}

// Temperature returns T.
func (s *SoftTargets) Temperature() float64 { return s.temperature }

// Len returns the number of samples.
func (s *SoftTargets) Len() int { return len(s.labels) }

// Probs returns the soft targets of sample i, one probability per class
// (a view: do not modify it).
func (s *SoftTargets) Probs(i int) []float32 {
	k := len(s.classes)
	return s.probs[i*k : (i+1)*k : (i+1)*k]
}

// CheckTemperature reports whether T is a usable distillation temperature
// (positive and finite), as a *ConfigError for "Temperature", so that a
// caller can refuse it before computing anything.
func CheckTemperature(T float64) error {
	if !(T > 0) || math.IsInf(T, 0) {
		return &ConfigError{Field: "Temperature", Value: T, Problem: "want a positive, finite temperature"}
	}
	return nil
}

// TeacherTargets runs teacher on every sample of d, the training data the
// student will be trained on, and returns the soft targets softmax(z/T).
// d must be valid and fit the teacher (as for Evaluate: sample shape,
// class count, and class names if both have them). Train accepts the
// result only for a training set of the same length and labels.
func TeacherTargets(teacher *Model, d *dataset.Dataset, T float64) (*SoftTargets, error) {
	if err := CheckTemperature(T); err != nil {
		return nil, err
	}
	if err := checkData(teacher.plan, d, "teacher"); err != nil {
		return nil, err
	}
	if teacher.Classes != nil && !slices.Equal(teacher.Classes, d.Classes) {
		return nil, fmt.Errorf("nn: teacher data has classes %v, teacher model has %v", d.Classes, teacher.Classes)
	}
	k := len(d.Classes)
	s := &SoftTargets{
		temperature: T,
		classes:     slices.Clone(d.Classes),
		labels:      slices.Clone(d.Labels),
		probs:       make([]float32, d.Len()*k),
	}
	ws := newWorkspace[float32](teacher.plan, false, false)
	for i := range d.Len() {
		z := ws.forward(teacher.plan, teacher.params, d.Sample(i), false)
		m := float64(z[argmax(z)])
		var sum float64
		row := s.probs[i*k : (i+1)*k]
		for j, v := range z {
			e := math.Exp((float64(v) - m) / T)
			row[j] = float32(e)
			sum += e
		}
		for j := range row {
			row[j] = float32(float64(row[j]) / sum)
		}
	}
	return s, nil
}

// fits reports why s cannot serve as the soft targets of train, or nil.
func (s *SoftTargets) fits(train *dataset.Dataset) error {
	switch {
	case s.Len() != train.Len():
		return fmt.Errorf("nn: teacher targets are for %d samples, the training data has %d", s.Len(), train.Len())
	case !slices.Equal(s.classes, train.Classes):
		return fmt.Errorf("nn: teacher targets are for classes %v, the training data has %v", s.classes, train.Classes)
	case !slices.Equal(s.labels, train.Labels):
		return fmt.Errorf("nn: teacher targets were computed on other data than the training data (labels differ)")
	}
	return nil
}

// distillLoss returns the distillation loss of logits z for the true class
// label and the teacher's soft targets p at temperature temp,
//
//	L = (1−α)·CE(z, label) + α·T²·KL(p ‖ softmax(z/T)),
//
// α weighting the soft term, and sets dz = scale·∂L/∂z, which is
//
//	scale·[(1−α)·(softmax(z) − onehot(label)) + α·T·(softmax(z/T) − p)].
//
// The T² keeps the soft term's gradient on the scale of the hard term's
// as T changes (Hinton et al. 2015, section 2). Values p_j = 0 add nothing
// to the KL divergence. Like softmaxCE it subtracts max(z) first.
func distillLoss[T float](z []T, label int, p []T, temp, alpha float64, scale T, dz []T) T {
	m := float64(z[0])
	for _, v := range z[1:] {
		m = max(m, float64(v))
	}
	var s1, s2 float64 // Σ exp(z−m), Σ exp((z−m)/T)
	for _, v := range z {
		d := float64(v) - m
		s1 += math.Exp(d)
		s2 += math.Exp(d / temp)
	}
	logS2 := math.Log(s2)
	var kl float64
	hard, soft := (1-alpha)/s1, alpha*temp/s2
	for i, v := range z {
		d := float64(v) - m
		pi := float64(p[i])
		if pi > 0 {
			kl += pi * (math.Log(pi) - (d/temp - logS2))
		}
		dz[i] = scale * T(hard*math.Exp(d)+soft*math.Exp(d/temp)-alpha*temp*pi)
	}
	dz[label] -= scale * T(1-alpha)
	ce := math.Log(s1) - (float64(z[label]) - m)
	return T((1-alpha)*ce + alpha*temp*temp*kl)
}

// The binary form of SoftTargets (MarshalBinary), in the frame container
// every splitnas file uses (package internal/frame): magic "SPLITNST",
// version 1, a JSON header {temperature, classes, samples}, then the
// labels (one byte per sample) and the probabilities (float32, row by
// row), and a CRC-32C.
const (
	targetsMagic   = "SPLITNST"
	targetsVersion = 1
)

type targetsHeader struct {
	Temperature float64  `json:"temperature"`
	Classes     []string `json:"classes"`
	Samples     int      `json:"samples"`
}

// MarshalBinary encodes s losslessly, so that soft targets computed once
// can travel to other machines (package remote) instead of the teacher
// being run again there.
func (s *SoftTargets) MarshalBinary() ([]byte, error) {
	hdr, err := json.Marshal(targetsHeader{s.temperature, s.classes, s.Len()})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = frame.Write(&buf, targetsMagic, targetsVersion, hdr, func(w *bufio.Writer) {
		w.Write(s.labels)
		var b4 [4]byte
		for _, p := range s.probs {
			binary.LittleEndian.PutUint32(b4[:], math.Float32bits(p))
			w.Write(b4[:])
		}
	})
	return buf.Bytes(), err
}

// UnmarshalBinary decodes what MarshalBinary wrote, checking the frame,
// the sizes, the labels (below the class count) and that every row is a
// probability distribution; errors are *FormatError naming "soft targets".
func (s *SoftTargets) UnmarshalBinary(b []byte) error {
	bad := func(msg string, err error) error {
		return &FormatError{Pkg: "nn", File: "soft targets", Msg: msg, Err: err}
	}
	hb, body, err := frame.Split(b, targetsMagic, "soft targets", targetsVersion, 1<<20)
	if err != nil {
		return bad("", err)
	}
	var h targetsHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return bad("header", err)
	}
	k := len(h.Classes)
	switch {
	case CheckTemperature(h.Temperature) != nil:
		return bad(fmt.Sprintf("temperature %v is not positive and finite", h.Temperature), nil)
	case k < 2 || k > 256:
		return bad(fmt.Sprintf("%d classes: want 2 to 256", k), nil)
	case h.Samples < 1 || uint64(len(body)) != uint64(h.Samples)*uint64(1+4*k):
		return bad(fmt.Sprintf("body of %d bytes does not hold %d samples of %d classes", len(body), h.Samples, k), nil)
	}
	labels, raw := body[:h.Samples], body[h.Samples:]
	probs := make([]float32, h.Samples*k)
	for i := range probs {
		probs[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	for i, l := range labels {
		if int(l) >= k {
			return bad(fmt.Sprintf("sample %d: label %d of %d classes", i, l, k), nil)
		}
		var sum float64
		for _, p := range probs[i*k : (i+1)*k] {
			if !(p >= 0 && p <= 1) {
				return bad(fmt.Sprintf("sample %d: probability %v outside [0, 1]", i, p), nil)
			}
			sum += float64(p)
		}
		if math.Abs(sum-1) > 1e-3 {
			return bad(fmt.Sprintf("sample %d: probabilities sum to %v, not 1", i, sum), nil)
		}
	}
	*s = SoftTargets{temperature: h.Temperature, classes: h.Classes, labels: slices.Clone(labels), probs: probs}
	return nil
}
