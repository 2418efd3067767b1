package fog

import (
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"strconv"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant"
)

// Dtypes of a split tensor on the wire.
const (
	Float32 = "float32" // IEEE 754 binary32, little-endian, 4 bytes a value
	Int8    = "int8"    // two's complement, 1 byte a value
)

// namePattern is what a model name may hold: it appears in URL paths, so
// no '/', ':' or anything needing escaping.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Model is a named network the fog serves and the edge runs: exactly one of
// a float model (package nn) and an integer one (package quant). Build one
// with NewModel; its methods may be called from several goroutines at
// once.
type Model struct {
	name    string
	float   *nn.Model
	integer *quant.Model
	net     arch.Network
	classes []string
}

// NewModel names a float model fm or an integer model qm (exactly one of
// them non-nil). name must be 1–64 letters, digits, '.', '_' or '-',
// starting with a letter or digit.
func NewModel(name string, fm *nn.Model, qm *quant.Model) (*Model, error) {
	if !namePattern.MatchString(name) {
		return nil, fmt.Errorf("fog: model name %q: want 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	if (fm == nil) == (qm == nil) {
		return nil, fmt.Errorf("fog: model %s: want exactly one of a float and an integer model", name)
	}
	m := &Model{name: name, float: fm, integer: qm}
	var given []string
	if fm != nil {
		m.net, given = fm.Network(), fm.Classes
	} else {
		if len(qm.Layers) == 0 {
			return nil, fmt.Errorf("fog: model %s has no layers", name)
		}
		m.net, given = qm.Network(), qm.Classes
	}
	k := m.net.Classes()
	if given != nil && len(given) != k {
		return nil, fmt.Errorf("fog: model %s names %d classes, its network has %d outputs", name, len(given), k)
	}
	m.classes = make([]string, k)
	for i := range m.classes {
		if given != nil {
			m.classes[i] = given[i]
		} else {
			m.classes[i] = strconv.Itoa(i)
		}
	}
	return m, nil
}

// Name is the model's name, the {name} of its URL.
func (m *Model) Name() string { return m.name }

// Network is the model's architecture.
func (m *Model) Network() arch.Network { return m.net }

// Layers is L: split points run from 0 (the edge sends the input window)
// to L (the edge sends the class scores).
func (m *Model) Layers() int { return len(m.net.Layers) }

// Labels names the classes in order: the model's Classes, or "0", "1", …
// when it has none.
func (m *Model) Labels() []string { return append([]string(nil), m.classes...) }

// Quantized reports whether the model is an integer one.
func (m *Model) Quantized() bool { return m.integer != nil }

// Precision is the model's arch precision: float32, int8 or int4 (the
// weights; activations of an integer model are always int8).
func (m *Model) Precision() arch.Precision {
	if m.integer != nil {
		return m.integer.Precision()
	}
	return arch.Float32()
}

// Dtype is the wire type of the split tensors: Float32 for a float model,
// Int8 for an integer one at every split point — at P = 0 the edge sends its
// quantized input, at P = L its int8 class scores.
func (m *Model) Dtype() string {
	if m.integer != nil {
		return Int8
	}
	return Float32
}

// elemBytes is the size of one value of the model's dtype, in bytes.
func (m *Model) elemBytes() int {
	if m.integer != nil {
		return 1
	}
	return 4
}

// Tensor is the shape of tensor P (0 = input). P must be in 0..L.
func (m *Model) Tensor(P int) arch.Shape { return m.net.Tensor(P) }

// Values is the number of values of tensor P.
func (m *Model) Values(P int) int { return m.net.Tensor(P).Size() }

// Bytes is the wire size of tensor P in bytes: what the edge sends at split
// point P (partition's SendBytes at the model's precision).
func (m *Model) Bytes(P int) int { return m.Values(P) * m.elemBytes() }

// MaxBytes is the largest Bytes(P) over P = 0..L: the largest valid raw
// request body.
func (m *Model) MaxBytes() int {
	n := 0
	for P := 0; P <= m.Layers(); P++ {
		n = max(n, m.Bytes(P))
	}
	return n
}

// checkSplit returns a *InputError if P is not a split point of m; what
// names where P came from (e.g. "header Splitnas-Split"), field is the
// error's Field.
func (m *Model) checkSplit(P int, what, field string) error {
	if P < 0 || P > m.Layers() {
		return &InputError{Cause: CauseBadSplit, Field: field,
			Msg: fmt.Sprintf("%s: split %d is out of range: model %s (%s) has split points 0..%d", what, P, m.name, m.net, m.Layers())}
	}
	return nil
}

// Edge runs layers 1..P on one input window x (Tensor(0).Size() values,
// channel-major) and returns the bytes the wearable sends at split point
// P: tensor P in the model's dtype, little-endian. An integer model first
// quantizes the window (quant.Model.QuantizeInput), then runs in integer
// arithmetic (quant.Model.Run), as the exported C does; a float model runs
// nn.Model.Run. The error is a *InputError if P or len(x) is wrong.
func (m *Model) Edge(x []float32, P int) ([]byte, error) {
	if err := m.checkSplit(P, "split", "split"); err != nil {
		return nil, err
	}
	if want := m.Values(0); len(x) != want {
		return nil, &InputError{Cause: CauseBadLength, Field: "input",
			Msg: fmt.Sprintf("input window has %d values, model %s takes %v = %d", len(x), m.name, m.Tensor(0), want)}
	}
	if m.integer != nil {
		q := make([]int8, len(x))
		m.integer.QuantizeInput(x, q)
		t := m.integer.Run(q, 0, P)
		b := make([]byte, len(t))
		for i, v := range t {
			b[i] = byte(v)
		}
		return b, nil
	}
	t := m.float.Run(x, 0, P)
	b := make([]byte, 4*len(t))
	for i, v := range t {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b, nil
}

// Result is what the fog computes for one request.
type Result struct {
	Class int    `json:"class"` // index of the largest score, the first one on a tie
	Label string `json:"label"` // the class's name (Model.Labels)
	// Scores are the class scores: a float model's logits; an integer
	// model's int8 scores dequantized with the output tensor's scale and
	// zero point.
	Scores []float32 `json:"scores"`
	// ScoresInt8 are an integer model's raw int8 class scores, from which
	// Class is chosen; nil for a float model.
	ScoresInt8 []int8 `json:"scores_int8,omitempty"`
}

// Finish decodes payload as tensor P (Bytes(P) bytes of the model's dtype,
// little-endian), runs layers P+1..L on it and returns the class. It checks
// everything before computing: the error is a *InputError (CauseBadSplit,
// CauseBadLength, or CauseNotFinite for a NaN or infinite float32 value,
// or float32 class scores that overflow) and Finish never panics on bad
// input.
func (m *Model) Finish(P int, payload []byte) (Result, error) {
	if err := m.checkSplit(P, "split", "split"); err != nil {
		return Result{}, err
	}
	if want := m.Bytes(P); len(payload) != want {
		return Result{}, &InputError{Cause: CauseBadLength, Field: "body",
			Msg: fmt.Sprintf("tensor is %d bytes; split %d of model %s takes tensor %v as %s: %d bytes", len(payload), P, m.name, m.Tensor(P), m.Dtype(), want)}
	}
	L := m.Layers()
	if m.integer != nil {
		in := make([]int8, len(payload))
		for i, b := range payload {
			in[i] = int8(b)
		}
		out := m.integer.Run(in, P, L)
		p := m.integer.Tensor(L)
		r := Result{Scores: make([]float32, len(out)), ScoresInt8: out}
		for i, v := range out {
			r.Scores[i] = p.Dequantize(v)
		}
		r.Class = argmax(out)
		r.Label = m.classes[r.Class]
		return r, nil
	}
	in := make([]float32, len(payload)/4)
	for i := range in {
		v := math.Float32frombits(binary.LittleEndian.Uint32(payload[4*i:]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return Result{}, &InputError{Cause: CauseNotFinite, Field: "body",
				Msg: fmt.Sprintf("tensor value %d is %v: want finite float32 values", i, v)}
		}
		in[i] = v
	}
	out := m.float.Run(in, P, L)
	for i, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return Result{}, &InputError{Cause: CauseNotFinite, Field: "body",
				Msg: fmt.Sprintf("class score %d is %v: the tensor's values are too large for float32 arithmetic", i, v)}
		}
	}
	r := Result{Class: argmax(out), Scores: out}
	r.Label = m.classes[r.Class]
	return r, nil
}

// argmax is the index of the largest value, the first one on a tie, as
// nn's and quant's Predict choose.
func argmax[T int8 | float32](z []T) int {
	best := 0
	for i, v := range z {
		if v > z[best] {
			best = i
		}
	}
	return best
}

// Info describes a served model (GET /v1/models).
type Info struct {
	Name      string      `json:"name"`
	Arch      string      `json:"arch"`      // arch's text form, e.g. 2048x1-128x2-8x4-64x2-5
	Precision string      `json:"precision"` // float32, int8 or int4 (weights)
	Dtype     string      `json:"dtype"`     // wire type of every split tensor: float32 or int8
	Classes   []string    `json:"classes"`
	Input     Shape       `json:"input"` // the input window
	Splits    []SplitInfo `json:"splits"`
}

// SplitInfo is one split point of a served model.
type SplitInfo struct {
	Split  int   `json:"split"`  // P: the edge runs layers 1..P
	Tensor Shape `json:"tensor"` // shape of tensor P
	Values int   `json:"values"`
	Bytes  int   `json:"bytes"` // raw body size: Values × the dtype's size
}

// Info describes m.
func (m *Model) Info() Info {
	in := Info{
		Name: m.name, Arch: m.net.String(), Precision: m.Precision().Name, Dtype: m.Dtype(),
		Classes: m.Labels(), Input: shapeOf(m.Tensor(0)),
	}
	for P := 0; P <= m.Layers(); P++ {
		in.Splits = append(in.Splits, SplitInfo{Split: P, Tensor: shapeOf(m.Tensor(P)), Values: m.Values(P), Bytes: m.Bytes(P)})
	}
	return in
}

// Shape is a tensor's shape on the wire: Length values in each of Channels
// channels, sent channel-major (channel 0's values first).
type Shape struct {
	Length   int `json:"length"`
	Channels int `json:"channels"`
}

func shapeOf(s arch.Shape) Shape { return Shape{Length: s.Len, Channels: s.Ch} }
