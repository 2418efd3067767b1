package nn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/internal/frame"
)

// softmaxT returns softmax(z/T) in float64, directly from the definition.
func softmaxT(z []float64, temp float64) []float64 {
	p := make([]float64, len(z))
	var sum float64
	for i, v := range z {
		p[i] = math.Exp(v / temp)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// TestDistillLoss checks the distillation loss against its definition
// and its gradient against float64 finite differences, for several
// temperatures, weights α and batch scales; at α = 0 it must be the plain
// softmax cross-entropy.
func TestDistillLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 1))
	tests := []struct {
		temp, alpha, scale float64
	}{
		{1, 0.5, 1}, {4, 0.5, 0.25}, {4, 1, 1}, {2.5, 0.3, 0.125}, {8, 0.9, 2.5}, {0.5, 0.7, 1}, {3, 0, 1},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("T=%g α=%g scale=%g", tt.temp, tt.alpha, tt.scale), func(t *testing.T) {
			k := 3 + i%3
			z, tz := randomSlice(rng, k), randomSlice(rng, k)
			for j := range z {
				z[j] *= 3
				tz[j] *= 3
			}
			p := softmaxT(tz, tt.temp)
			if i == 2 {
				p[0], p[1] = p[0]+p[1], 0 // a zero target adds nothing
			}
			label := rng.IntN(k)
			dz := make([]float64, k)
			got := distillLoss(z, label, p, tt.temp, tt.alpha, tt.scale, dz)

			q := softmaxT(z, tt.temp)
			var kl float64
			for j := range p {
				if p[j] > 0 {
					kl += p[j] * math.Log(p[j]/q[j])
				}
			}
			ce := -math.Log(softmaxT(z, 1)[label])
			want := (1-tt.alpha)*ce + tt.alpha*tt.temp*tt.temp*kl
			if math.Abs(got-want) > 1e-12*max(1, math.Abs(want)) {
				t.Errorf("loss %.15g, want %.15g", got, want)
			}
			if tt.alpha == 0 {
				if ce := softmaxCE(z, label, 1, make([]float64, k)); math.Abs(got-ce) > 1e-12 {
					t.Errorf("α = 0: loss %.15g, softmax cross-entropy %.15g", got, ce)
				}
			}
			scratch := make([]float64, k)
			f := func() float64 { return tt.scale * distillLoss(z, label, p, tt.temp, tt.alpha, 1, scratch) }
			worst, _ := gradCheck(t, "logits", z, dz, f, nil)
			t.Logf("worst relative error %.2g", worst)
		})
	}
	// Large logits stay finite.
	for _, z := range [][]float32{{1000, 1001, 999}, {-1e30, 0, 1e30}} {
		dz := make([]float32, 3)
		l := distillLoss(z, 0, []float32{0.2, 0.3, 0.5}, 4, 0.5, 1, dz)
		if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
			t.Errorf("logits %v: loss %g", z, l)
		}
		for _, v := range dz {
			if math.IsNaN(float64(v)) {
				t.Errorf("logits %v: gradient %v", z, dz)
			}
		}
	}
}

// TestDistillNetworkGradient checks the distillation loss's gradient
// through whole random networks, as TestNetworkGradients does for the
// cross-entropy.
func TestDistillNetworkGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(77, 6))
	for i := range 8 {
		net := randomNetwork(t, rng)
		t.Run(fmt.Sprintf("%d:%s", i, net.String()), func(t *testing.T) {
			p, err := newPlan(net)
			if err != nil {
				t.Fatal(err)
			}
			// T ≤ 2.5: the KL term is a difference of terms of order 1
			// scaled by T², so its round-off, which the finite differences
			// divide by their step, grows with T² (TestDistillLoss covers
			// larger T on the logits alone).
			r := rand.New(rand.NewPCG(uint64(i), 9))
			temp, alpha := 1+1.5*r.Float64(), r.Float64()
			target := softmaxT(randomSlice(r, p.classes()), temp)
			loss := func(z []float64, label int, dz []float64) float64 {
				return distillLoss(z, label, target, temp, alpha, 1, dz)
			}
			checkNetworkGradientOf(t, p, newWorkspace[float64](p, false, true), false, uint64(i), loss)
		})
	}
}

// TestTeacherTargets checks the soft targets against the teacher's logits
// and refuses to use them on other data.
func TestTeacherTargets(t *testing.T) {
	net := toyNet(t)
	teacher, _ := NewModel(net, 3)
	d := sinusoids(30, 256, 1)
	const temp = 3
	s, err := TeacherTargets(teacher, d, temp)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 30 || s.Temperature() != temp {
		t.Fatalf("%d targets at T %g, want 30 at %g", s.Len(), s.Temperature(), float64(temp))
	}
	z32 := make([]float32, 3)
	for i := range d.Len() {
		teacher.Logits(d.Sample(i), z32)
		z := []float64{float64(z32[0]), float64(z32[1]), float64(z32[2])}
		want := softmaxT(z, temp)
		var sum float64
		for j, v := range s.Probs(i) {
			sum += float64(v)
			if math.Abs(float64(v)-want[j]) > 1e-6 {
				t.Errorf("sample %d class %d: %g, want %g", i, j, v, want[j])
			}
		}
		if math.Abs(sum-1) > 1e-6 {
			t.Errorf("sample %d: targets sum to %g", i, sum)
		}
	}

	var ce *ConfigError
	if _, err := TeacherTargets(teacher, d, 0); !errors.As(err, &ce) || ce.Field != "Temperature" {
		t.Errorf("T = 0: %v, want a ConfigError for Temperature", err)
	}
	if err := CheckTemperature(math.Inf(1)); err == nil {
		t.Error("infinite temperature accepted")
	}
	if _, err := TeacherTargets(teacher, randomData(5, arch.Shape{Len: 128, Ch: 1}, 3, 1), 2); err == nil || !strings.Contains(err.Error(), "teacher data") {
		t.Errorf("wrong shape: %v", err)
	}
	named := *teacher
	named.Classes = []string{"x", "y", "z"}
	if _, err := TeacherTargets(&named, d, 2); err == nil || !strings.Contains(err.Error(), "teacher model has") {
		t.Errorf("other class names: %v", err)
	}

	cfg := DefaultConfig()
	cfg.Epochs, cfg.Teacher = 1, s
	other := sinusoids(30, 256, 1)
	other.Labels[0], other.Labels[1] = other.Labels[1], other.Labels[0]
	for _, tt := range []struct {
		name  string
		train *dataset.Dataset
		want  string
	}{
		{"length", sinusoids(33, 256, 1), "for 30 samples, the training data has 33"},
		{"labels", other, "other data"},
	} {
		if _, err := Native().Train(context.Background(), net, tt.train, nil, cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	cfg.Teacher = &SoftTargets{}
	if err := cfg.Validate(); !errors.As(err, &ce) || ce.Field != "Teacher" {
		t.Errorf("zero SoftTargets: %v, want a ConfigError for Teacher", err)
	}
}

// TestDistillation trains a teacher on the sinusoid task, then students
// whose hard labels are noise. With α = 1 a student can learn only from
// the teacher's soft targets: it must agree with the teacher on most test
// samples and score well on the true labels, and its weights and loss
// must be bit-identical to those of a student given the true labels. With α = 0 the same student
// learns the noise and scores near chance (1/3).
func TestDistillation(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four networks")
	}
	net := toyNet(t)
	train, val, test := sinusoids(1500, 256, 1), sinusoids(300, 256, 2), sinusoids(600, 256, 3)
	cfg := DefaultConfig()
	cfg.Epochs = 10
	tres, err := Native().Train(context.Background(), net, train, val, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := Evaluate(tres.Model, test)
	if err != nil {
		t.Fatal(err)
	}
	noisy := train.Subset(seq(train.Len()))
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range noisy.Labels {
		noisy.Labels[i] = uint8(rng.IntN(3))
	}
	student := func(d *dataset.Dataset, alpha float64) (*Result, Metrics, float64) {
		t.Helper()
		soft, err := TeacherTargets(tres.Model, d, 2)
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Epochs, cfg.Teacher, cfg.Alpha, cfg.Seed = 15, soft, alpha, 2
		res, err := Native().Train(context.Background(), net, d, nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		met, err := Evaluate(res.Model, test)
		if err != nil {
			t.Fatal(err)
		}
		agree := 0
		for i := range test.Len() {
			if res.Model.Predict(test.Sample(i)) == tres.Model.Predict(test.Sample(i)) {
				agree++
			}
		}
		return res, met, float64(agree) / float64(test.Len())
	}
	res, met, agree := student(noisy, 1)
	t.Logf("α = 1: student test accuracy %.3f, agrees with the teacher (%.3f) on %.3f", met.Accuracy, tm.Accuracy, agree)
	if met.Accuracy < 0.8 || agree < 0.75 {
		t.Errorf("α = 1: student accuracy %.3f, agreement %.3f; want ≥ 0.8 and ≥ 0.75", met.Accuracy, agree)
	}
	// (The training accuracies differ: they count the hard labels.)
	if res2, _, _ := student(train, 1); !equalBits(res.Model.Params(), res2.Model.Params()) ||
		res.History[len(res.History)-1].TrainLoss != res2.History[len(res2.History)-1].TrainLoss {
		t.Error("α = 1: the hard labels change the training")
	}
	_, met, _ = student(noisy, 0)
	t.Logf("α = 0: student test accuracy %.3f", met.Accuracy)
	if met.Accuracy > 0.6 {
		t.Errorf("α = 0 on noise labels: test accuracy %.3f, want ≤ 0.6", met.Accuracy)
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestSoftTargetsBinary round-trips soft targets through their binary form
// and refuses damaged and inconsistent encodings.
func TestSoftTargetsBinary(t *testing.T) {
	teacher, _ := NewModel(toyNet(t), 3)
	s, err := TeacherTargets(teacher, sinusoids(30, 256, 1), 2.5)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got SoftTargets
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, s) {
		t.Fatal("soft targets changed through MarshalBinary/UnmarshalBinary")
	}

	// Re-frame a changed body, so that only the content check can object.
	reframe := func(edit func(hdr *targetsHeader, body []byte) []byte) []byte {
		hb, body, err := frame.Split(b, targetsMagic, "soft targets", targetsVersion, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var h targetsHeader
		if err := json.Unmarshal(hb, &h); err != nil {
			t.Fatal(err)
		}
		body = edit(&h, slices.Clone(body))
		hb, _ = json.Marshal(h)
		var buf bytes.Buffer
		frame.Write(&buf, targetsMagic, targetsVersion, hb, func(w *bufio.Writer) { w.Write(body) })
		return buf.Bytes()
	}
	flipped := slices.Clone(b)
	flipped[len(flipped)/2] ^= 1
	for _, tt := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "no \"SPLITNST\" magic"},
		{"truncated", b[:len(b)-9], "checksum"},
		{"flipped bit", flipped, "checksum"},
		{"temperature", reframe(func(h *targetsHeader, body []byte) []byte { h.Temperature = -1; return body }), "temperature -1"},
		{"samples", reframe(func(h *targetsHeader, body []byte) []byte { h.Samples = 31; return body }), "does not hold 31 samples"},
		{"label", reframe(func(h *targetsHeader, body []byte) []byte { body[4] = 3; return body }), "sample 4: label 3 of 3 classes"},
		{"sum", reframe(func(h *targetsHeader, body []byte) []byte {
			binary.LittleEndian.PutUint32(body[30:], math.Float32bits(0.9))
			binary.LittleEndian.PutUint32(body[34:], math.Float32bits(0.9))
			return body
		}), "sample 0: probabilities sum to"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s SoftTargets
			err := s.UnmarshalBinary(tt.b)
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want a FormatError saying %q", err, tt.want)
			}
		})
	}
}
