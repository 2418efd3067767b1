package export

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/export/internal/onnxpb"
	"github.com/splitnas/splitnas/quant"
)

// The ONNX models WriteONNX writes, and the names of the tensors they
// exchange.
const (
	WholeONNXFile = "whole.onnx" // layers 1..L: input → scores
	EdgeONNXFile  = "edge.onnx"  // layers 1..P: input → split
	FogONNXFile   = "fog.onnx"   // layers P+1..L: split → scores

	// ONNXInput is the network input: float32 [batch, C, L], channel-major
	// as everywhere in splitnas (value (t, c) of a window at c·L + t).
	ONNXInput = "input"
	// ONNXSplit is tensor P, the edge model's output and the fog model's
	// input: float32 for a float network, int8 for an integer one (the
	// bytes the edge sends). [batch, C_P, L_P], or [batch, K] when P = L.
	ONNXSplit = "split"
	// ONNXScores is the class scores, [batch, K]: float32 logits, or for
	// an integer network the int8 scores of quant.Model.Run (and of the
	// exported C), whose argmax is the prediction.
	ONNXScores = "scores"
	// ONNXBatch is the symbolic name of every tensor's first dimension.
	ONNXBatch = "batch"

	// ONNXOpset is the ONNX operator set the models import (default
	// domain); their IR version is 7, the one of opset 13.
	ONNXOpset     = 13
	onnxIRVersion = 7
)

// ONNXRounding is how the QDQ model of an integer network rounds each
// layer's rescaled output to int8.
type ONNXRounding int

const (
	// RoundQDQ (the default) writes a plain QDQ graph: DequantizeLinear,
	// the float operator, Relu, QuantizeLinear. QuantizeLinear rounds the
	// rescaled value once, half to even, where package quant (and the
	// exported C) rounds twice as TensorFlow Lite Micro does, so a layer's
	// int8 outputs may differ from quant's by one step. It is the form
	// converters and vendor tools recognise and fuse into integer kernels.
	RoundQDQ ONNXRounding = iota
	// RoundTFLite reproduces TensorFlow Lite Micro's double rounding
	// (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT by the
	// channel's right shift r = −Shift ≥ 1, both ties away from zero or
	// toward +∞): rounding v = acc·M to a multiple of 2^−r and then to an
	// integer equals rounding v + sign(v)·2^−(r+1) once, but on boundaries
	// of measure zero. So between each layer's operator and its Relu and
	// QuantizeLinear the graph adds y + Sign(y)·δ_c, δ_c = 2^−(r_c+1)·S_out
	// per output channel (0 where the multiplier needs no right shift; the
	// three nodes are left out of a layer whose δ is 0 everywhere). An ONNX
	// runtime that runs the graph as written (ONNX Runtime with
	// session.disable_quant_qdq = 1) then gives quant's int8 values but
	// for float32 near-ties; the price is float operators between the
	// DequantizeLinear and the QuantizeLinear nodes, which keep tools from
	// fusing those layers into integer kernels.
	RoundTFLite
)

// String returns "qdq" or "tflite", the names ParseONNXRounding takes.
func (r ONNXRounding) String() string {
	switch r {
	case RoundQDQ:
		return "qdq"
	case RoundTFLite:
		return "tflite"
	}
	return fmt.Sprintf("ONNXRounding(%d)", int(r))
}

// ParseONNXRounding returns the rounding named "qdq" or "tflite".
func ParseONNXRounding(s string) (ONNXRounding, error) {
	switch s {
	case "qdq":
		return RoundQDQ, nil
	case "tflite":
		return RoundTFLite, nil
	}
	return 0, fmt.Errorf("%w %q: want qdq or tflite", ErrRounding, s)
}

// ONNXOptions are WriteONNXWith's options; the zero value is WriteONNX's
// export.
type ONNXOptions struct {
	// Rounding is how an integer network's layers round (RoundQDQ by
	// default). A float network has no rounding to choose: it takes only
	// RoundQDQ.
	Rounding ONNXRounding
}

// ErrRounding is wrapped by the error for an unknown ONNXRounding, and for
// one other than RoundQDQ asked of a float network.
var ErrRounding = errors.New("export: ONNX rounding")

// ErrModel is wrapped by WriteONNX's error for a Network that holds
// neither or both of a float and an integer model, or an integer model
// whose arrays do not fit its architecture.
var ErrModel = errors.New("export: bad model")

// SplitError is WriteONNX's error for a split point outside 0..L.
type SplitError struct {
	P, Layers int
}

func (e *SplitError) Error() string {
	return fmt.Sprintf("export: split point %d: the network has layers 1..%d (P = 0..%d)", e.P, e.Layers, e.Layers)
}

// ONNXTensor is a graph input or output of an exported ONNX model.
type ONNXTensor struct {
	Name  string `json:"name"`
	DType string `json:"dtype"` // "float32" or "int8"
	// Shape is the dimensions after the batch dimension (ONNXBatch):
	// [C, L] for a tensor of splitnas shape L×C, [K] for the scores.
	Shape []int `json:"shape"`
	// Tensor is splitnas's index of the tensor: 0 for the input, i for
	// the output of layer i (the split tensor is P, the scores L).
	Tensor int `json:"tensor"`
	// Quant is an int8 tensor's scale and zero point (real value =
	// Scale·(q − ZeroPoint)); nil for float32.
	Quant *quant.QParams `json:"quant,omitempty"`
}

// String returns the tensor as "name dtype [batch, d1, d2]".
func (t ONNXTensor) String() string {
	dims := []string{ONNXBatch}
	for _, d := range t.Shape {
		dims = append(dims, strconv.Itoa(d))
	}
	s := fmt.Sprintf("%s %s [%s]", t.Name, t.DType, strings.Join(dims, ", "))
	if t.Quant != nil {
		s += fmt.Sprintf(" (scale %g, zero point %d)", t.Quant.Scale, t.Quant.ZeroPoint)
	}
	return s
}

// ONNXModelInfo describes one of the three model files.
type ONNXModelInfo struct {
	File   string     `json:"file"`
	From   int        `json:"from"` // it runs layers From+1..To
	To     int        `json:"to"`
	Input  ONNXTensor `json:"input"`
	Output ONNXTensor `json:"output"`
	Nodes  int        `json:"nodes"`
}

// ONNXSummary is what WriteONNX wrote.
type ONNXSummary struct {
	Arch      string `json:"arch"`
	Split     int    `json:"split"`  // P
	Layers    int    `json:"layers"` // L
	Precision string `json:"precision"`
	// Rounding is an integer network's ONNXRounding ("qdq" or "tflite");
	// empty for a float network.
	Rounding string   `json:"rounding,omitempty"`
	Classes  []string `json:"classes,omitempty"`
	Opset    int      `json:"opset"`
	// InputQuant is, for an integer network, the scale and zero point the
	// edge quantizes the float input with (QuantizeLinear, the first node
	// of the edge and the whole model).
	InputQuant *quant.QParams `json:"input_quant,omitempty"`
	Whole      ONNXModelInfo  `json:"whole"`
	Edge       ONNXModelInfo  `json:"edge"`
	Fog        ONNXModelInfo  `json:"fog"`
	Files      []string       `json:"files"`
}

// WriteONNX writes n as three ONNX models (opset 13) into dir, created if
// needed: WholeONNXFile, layers 1..L from ONNXInput to ONNXScores;
// EdgeONNXFile, layers 1..P from ONNXInput to ONNXSplit; and FogONNXFile,
// layers P+1..L from ONNXSplit to ONNXScores. Every tensor has a symbolic
// batch dimension first. At P = 0 or P = L one part has no layers and is
// written anyway: an Identity, or for an integer network at P = 0 an edge
// that only quantizes the input.
//
// A float network becomes float32 Conv, ConvTranspose, Flatten + Gemm,
// MaxPool and Relu nodes with package nn's weights. An integer network
// becomes a QDQ model: QuantizeLinear of the input, then per layer
// DequantizeLinear of its int8 input, of its int8 weights (per output
// channel) and of its int32 biases (per channel, scale input scale ×
// weight scale, zero point 0), the float operator, Relu, and
// QuantizeLinear to the layer's output scale and zero point; MaxPool runs
// on the int8 tensor itself. Every integer and scale comes from the
// quant.Model as it is. Int4 weights, within ±7, are stored as int8
// initializers (opset 13 has no int4 type). An ONNX runtime requantizes
// through float scales and rounds once, half to even, where package quant
// (and the exported C) rounds twice with TensorFlow Lite Micro's
// fixed-point multipliers, so a layer's int8 outputs may differ from
// quant's by one step, and such steps can add up over several layers. On
// x86 CPUs without VNNI, ONNX Runtime's fused integer kernels (its default
// for QDQ models) add uint8 × int8 products in saturating 16-bit pairs and
// can be far off for int8 weights near ±127: its session option
// session.disable_quant_qdq = 1 runs the graph as written.
//
// WriteONNX writes that plain QDQ graph (RoundQDQ). WriteONNXWith with
// RoundTFLite adds, per layer, a correction before the Relu and the
// QuantizeLinear that makes their single rounding quant's double one:
// measured on 10 random networks of the search space, ONNX Runtime (graph
// as written) then gives quant's int8 split tensors and scores on all but
// 5 of 5.1 million values, by one step, and its predictions on every one of
// 14,000 windows. A layer with the correction is no plain QDQ node unit,
// so ONNX Runtime's default session runs it in float too.
//
// The architecture, split point, precision, rounding and class names are
// in each model's metadata_props (keys "splitnas.*") and doc_string.
func WriteONNX(dir string, n Network, P int) (*ONNXSummary, error) {
	return WriteONNXWith(dir, n, P, ONNXOptions{})
}

// WriteONNXWith is WriteONNX with options: for an integer network, the
// rounding of its layers (ONNXOptions.Rounding).
func WriteONNXWith(dir string, n Network, P int, opt ONNXOptions) (*ONNXSummary, error) {
	net, prec, err := n.onnxNet()
	if err != nil {
		return nil, err
	}
	switch r := opt.Rounding; {
	case r != RoundQDQ && r != RoundTFLite:
		return nil, fmt.Errorf("%w %v: want RoundQDQ or RoundTFLite", ErrRounding, r)
	case r != RoundQDQ && n.Int == nil:
		return nil, fmt.Errorf("%w %v: a float network has no integer rounding (want qdq, the default)", ErrRounding, r)
	case r == RoundTFLite:
		for i, l := range n.Int.Layers {
			if l.Kind != arch.MaxPool && len(l.Shift) != len(l.B) {
				return nil, fmt.Errorf("%w: layer %d (%v): %d multiplier shifts, want %d", ErrModel, i+1, l.Kind, len(l.Shift), len(l.B))
			}
		}
	}
	L := len(net.Layers)
	if P < 0 || P > L {
		return nil, &SplitError{P: P, Layers: L}
	}
	for i, l := range net.Layers {
		if _, err := onnxPads(l); err != nil {
			return nil, fmt.Errorf("%w: layer %d (%v): %v", ErrModel, i+1, l.Kind, err)
		}
	}
	s := &ONNXSummary{Arch: net.String(), Split: P, Layers: L, Precision: prec.Name, Opset: ONNXOpset}
	if n.Int != nil {
		s.Classes = n.Int.Classes
		q := n.Int.Tensor(0)
		s.InputQuant = &q
		s.Rounding = opt.Rounding.String()
	} else {
		s.Classes = n.Float.Classes
	}
	e := onnxExporter{n: n, net: net, s: s, rounding: opt.Rounding}
	parts := []struct {
		info     *ONNXModelInfo
		file     string
		part     string
		from, to int
		in, out  string
	}{
		{&s.Whole, WholeONNXFile, "whole", 0, L, ONNXInput, ONNXScores},
		{&s.Edge, EdgeONNXFile, "edge", 0, P, ONNXInput, ONNXSplit},
		{&s.Fog, FogONNXFile, "fog", P, L, ONNXSplit, ONNXScores},
	}
	models := make([]*onnxpb.ModelProto, len(parts))
	for k, p := range parts {
		*p.info = ONNXModelInfo{File: p.file, From: p.from, To: p.to,
			Input: e.tensorInfo(p.in, p.from), Output: e.tensorInfo(p.out, p.to)}
		models[k] = e.model(p.part, p.info)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("export: ONNX models into %s: %w", dir, err)
	}
	for k, p := range parts {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(models[k])
		if err != nil {
			return nil, fmt.Errorf("export: encoding %s: %w", p.file, err)
		}
		if err := os.WriteFile(filepath.Join(dir, p.file), b, 0o644); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		s.Files = append(s.Files, p.file)
	}
	return s, nil
}

// onnxNet returns the network's architecture and precision, checking that
// exactly one model is set and, for an integer model, that its arrays fit
// its layers (so that a hand-built model cannot make the export panic).
func (n Network) onnxNet() (arch.Network, arch.Precision, error) {
	switch {
	case (n.Float == nil) == (n.Int == nil):
		return arch.Network{}, arch.Precision{}, fmt.Errorf("%w: want exactly one of a float and an integer model", ErrModel)
	case n.Float != nil:
		return n.Float.Network(), arch.Float32(), nil
	}
	m := n.Int
	if m.Bits != 8 && m.Bits != 4 {
		return arch.Network{}, arch.Precision{}, fmt.Errorf("%w: int%d weights: want int8 or int4", ErrModel, m.Bits)
	}
	if len(m.Layers) == 0 {
		return arch.Network{}, arch.Precision{}, fmt.Errorf("%w: the integer model has no layers", ErrModel)
	}
	net := m.Network()
	if err := net.Validate(); err != nil {
		return arch.Network{}, arch.Precision{}, fmt.Errorf("%w: %v", ErrModel, err)
	}
	wmax := int(1)<<(m.Bits-1) - 1
	for i := range m.Layers {
		l := &m.Layers[i]
		if l.Kind == arch.MaxPool {
			continue
		}
		nw, ch := l.Weights(), l.Biases()
		if len(l.W) != nw || len(l.B) != ch || len(l.WScale) != ch {
			return arch.Network{}, arch.Precision{}, fmt.Errorf("%w: layer %d (%v): %d weights, %d biases and %d weight scales, want %d, %d and %d",
				ErrModel, i+1, l.Kind, len(l.W), len(l.B), len(l.WScale), nw, ch, ch)
		}
		for _, w := range l.W {
			if int(w) < -wmax || int(w) > wmax {
				return arch.Network{}, arch.Precision{}, fmt.Errorf("%w: layer %d (%v): weight %d outside ±%d (int%d)", ErrModel, i+1, l.Kind, w, wmax, m.Bits)
			}
		}
	}
	return net, m.Precision(), nil
}

// onnxPads returns the pads attribute of a Conv or ConvTranspose layer
// ([left, right]), checking that ONNX's output length formula gives arch's
// Out.Len (and for a MaxPool its own formula). A ConvTranspose's ONNX
// output is the full transposed output, (In.Len−1)·Stride + Kernel long,
// with pads[0] values cropped on the left and pads[1] on the right —
// package quant's semantics (accumulate) with pads [PadLeft, full −
// PadLeft − Out.Len], no output_padding needed.
func onnxPads(l arch.Layer) ([]int, error) {
	switch l.Kind {
	case arch.Conv:
		pads := []int{l.PadLeft, l.PadRight}
		if got := (l.In.Len+l.PadLeft+l.PadRight-l.Kernel)/l.Stride + 1; got != l.Out.Len {
			return nil, fmt.Errorf("ONNX's Conv gives length %d, arch %d", got, l.Out.Len)
		}
		return pads, nil
	case arch.ConvTranspose:
		full := (l.In.Len-1)*l.Stride + l.Kernel
		right := full - l.PadLeft - l.Out.Len
		if l.PadLeft < 0 || right < 0 {
			return nil, fmt.Errorf("output length %d with %d cropped on the left does not fit the full output %d", l.Out.Len, l.PadLeft, full)
		}
		return []int{l.PadLeft, right}, nil
	case arch.MaxPool:
		if got := (l.In.Len-l.Kernel)/l.Stride + 1; got != l.Out.Len {
			return nil, fmt.Errorf("ONNX's MaxPool gives length %d, arch %d", got, l.Out.Len)
		}
	}
	return nil, nil
}

// onnxExporter builds the models of one network.
type onnxExporter struct {
	n        Network
	net      arch.Network
	s        *ONNXSummary
	rounding ONNXRounding
}

// dims returns the dimensions of tensor i after the batch dimension: [C,
// L], or [K] for the scores (tensor L).
func (e *onnxExporter) dims(i int) []int {
	if i == len(e.net.Layers) {
		return []int{e.net.Classes()}
	}
	sh := e.net.Tensor(i)
	return []int{sh.Ch, sh.Len}
}

// tensorInfo describes tensor i of the network under the given graph name:
// float32 input, float32 tensors in a float network, int8 ones in an
// integer network.
func (e *onnxExporter) tensorInfo(name string, i int) ONNXTensor {
	t := ONNXTensor{Name: name, DType: "float32", Shape: e.dims(i), Tensor: i}
	if e.n.Int != nil && name != ONNXInput {
		q := e.n.Int.Tensor(i)
		t.DType, t.Quant = "int8", &q
	}
	return t
}

func dtypeOf(s string) onnxpb.TensorProto_DataType {
	if s == "int8" {
		return onnxpb.TensorProto_INT8
	}
	return onnxpb.TensorProto_FLOAT
}

// valueInfo declares a tensor of the given type and shape (after a
// symbolic batch dimension).
func valueInfo(name string, dt onnxpb.TensorProto_DataType, dims []int) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
		{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: ONNXBatch}},
	}}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(dt)), Shape: shape,
		}}},
	}
}

// model builds the part of the network described by info.
func (e *onnxExporter) model(part string, info *ONNXModelInfo) *onnxpb.ModelProto {
	g := &onnxGraph{g: &onnxpb.GraphProto{Name: proto.String("splitnas_" + part)}}
	in, out := info.Input, info.Output
	g.g.Input = []*onnxpb.ValueInfoProto{valueInfo(in.Name, dtypeOf(in.DType), in.Shape)}
	g.g.Output = []*onnxpb.ValueInfoProto{valueInfo(out.Name, dtypeOf(out.DType), out.Shape)}
	// name returns the graph name of tensor i: the part's input or output
	// at its ends, "tensor<i>" between them.
	name := func(i int) string {
		switch {
		case i == info.To:
			return out.Name
		case i == info.From:
			return in.Name
		}
		return "tensor" + strconv.Itoa(i)
	}
	x := in.Name
	if e.n.Int != nil && in.Name == ONNXInput {
		// The float input, quantized: tensor 0 in int8.
		t0 := out.Name
		if info.To > 0 {
			t0 = "tensor0"
			g.g.ValueInfo = append(g.g.ValueInfo, valueInfo(t0, onnxpb.TensorProto_INT8, e.dims(0)))
		}
		g.quantize("input.quantize", x, t0, "input", e.n.Int.Tensor(0))
		x = t0
	}
	if info.From == info.To && x != out.Name {
		g.node("Identity", part+".identity", []string{x}, []string{out.Name})
		x = out.Name
	}
	for i := info.From; i < info.To; i++ {
		y := name(i + 1)
		if e.n.Int != nil {
			e.quantLayer(g, i, x, y)
		} else {
			e.floatLayer(g, i, x, y)
		}
		if y != out.Name {
			dt := onnxpb.TensorProto_FLOAT
			if e.n.Int != nil {
				dt = onnxpb.TensorProto_INT8
			}
			g.g.ValueInfo = append(g.g.ValueInfo, valueInfo(y, dt, e.dims(i+1)))
		}
		x = y
	}
	info.Nodes = len(g.g.Node)

	doc := e.doc(part, info)
	g.g.DocString = proto.String(doc)
	meta := []struct{ k, v string }{
		{"splitnas.part", part},
		{"splitnas.arch", e.s.Arch},
		{"splitnas.split", strconv.Itoa(e.s.Split)},
		{"splitnas.layers", fmt.Sprintf("%d..%d", info.From+1, info.To)},
		{"splitnas.precision", e.s.Precision},
		{"splitnas.input", info.Input.String()},
		{"splitnas.output", info.Output.String()},
	}
	if e.s.Classes != nil {
		c, _ := json.Marshal(e.s.Classes)
		meta = append(meta, struct{ k, v string }{"splitnas.classes", string(c)})
	}
	if e.n.Int != nil {
		meta = append(meta, struct{ k, v string }{"splitnas.weights", e.weightNote()},
			struct{ k, v string }{"splitnas.rounding", e.rounding.String()})
	}
	m := &onnxpb.ModelProto{
		IrVersion:    proto.Int64(onnxIRVersion),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(ONNXOpset)}},
		ProducerName: proto.String("splitnas"),
		DocString:    proto.String(doc),
		Graph:        g.g,
	}
	for _, kv := range meta {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(kv.k), Value: proto.String(kv.v)})
	}
	return m
}

// weightNote says how an integer network's weights are stored.
func (e *onnxExporter) weightNote() string {
	if e.n.Int.Bits == 4 {
		return "int4 weights (values within ±7) stored as int8 initializers: opset 13 has no int4 type"
	}
	return "int8 weights"
}

// doc is a model's doc_string.
func (e *onnxExporter) doc(part string, info *ONNXModelInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "splitnas %s model of %s (%s), split point P = %d of L = %d: layers %d..%d.\n",
		part, e.s.Arch, e.s.Precision, e.s.Split, e.s.Layers, info.From+1, info.To)
	if info.From == info.To {
		b.WriteString("It has no layers.\n")
	}
	fmt.Fprintf(&b, "Input: %s (splitnas tensor %d). Output: %s (splitnas tensor %d).\n",
		info.Input, info.Input.Tensor, info.Output, info.Output.Tensor)
	b.WriteString("Tensors are channel-major: [batch, channels, length], the scores [batch, classes].\n")
	if e.n.Int != nil {
		fmt.Fprintf(&b, "QDQ model: %s. The int8 scores are those of splitnas's integer reference (argmax is the prediction).\n", e.weightNote())
		if e.rounding == RoundTFLite {
			b.WriteString("Rounding tflite: each layer adds Sign(y)·δ to its float output y before Relu and QuantizeLinear (δ = 2^−(r+1)·output scale per channel, r the fixed-point multiplier's right shift), so that QuantizeLinear's single rounding, half to even, gives the reference's double rounding as TensorFlow Lite Micro does it (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT): run as written, the graph gives the reference's int8 values but for float32 near-ties.\n")
		} else {
			b.WriteString("Rounding qdq: ONNX runtimes round each layer's rescaled output once, half to even, where the reference rounds twice as TensorFlow Lite Micro does, so their int8 values may differ by one step per layer.\n")
		}
	}
	if e.s.Classes != nil {
		fmt.Fprintf(&b, "Classes: %s.\n", strings.Join(e.s.Classes, ", "))
	}
	return b.String()
}

// floatLayer adds layer i (from 0) of a float network, from tensor x to
// tensor y.
func (e *onnxExporter) floatLayer(g *onnxGraph, i int, x, y string) {
	l := e.net.Layers[i]
	p := "layer" + strconv.Itoa(i+1)
	if l.Kind == arch.MaxPool {
		g.node("MaxPool", p+".maxpool", []string{x}, []string{y},
			attrInts("kernel_shape", l.Kernel), attrInts("strides", l.Stride))
		return
	}
	w, b := e.n.Float.Weights(i)
	wName, bName := p+".weight", p+".bias"
	switch l.Kind {
	case arch.ConvTranspose:
		g.initFloat(wName, []int{l.In.Ch, l.Out.Ch, l.Kernel}, transposeIO(w, l.Out.Ch, l.In.Ch, l.Kernel))
	case arch.Conv:
		g.initFloat(wName, []int{l.Out.Ch, l.In.Ch, l.Kernel}, w)
	case arch.Dense:
		g.initFloat(wName, []int{l.Out.Len, l.In.Size()}, w)
	}
	g.initFloat(bName, []int{len(b)}, b)
	in := x
	if l.Kind == arch.Dense {
		in = p + ".flat"
		g.node("Flatten", p+".flatten", []string{x}, []string{in}, attrInt("axis", 1))
	}
	e.op(g, i, p, in, wName, bName, y, nil)
}

// op adds layer i's operator on the float tensor in, with weights w and
// bias b, then, if delta is not nil, the rounding correction y + Sign(y)·
// delta (RoundTFLite: delta per output channel), (hidden Dense) the
// unsqueeze to [batch, 1, N] and the ReLU, ending in tensor y.
func (e *onnxExporter) op(g *onnxGraph, i int, p, in, w, b, y string, delta []float32) {
	l := e.net.Layers[i]
	last := i == len(e.net.Layers)-1
	steps := 0
	if l.Kind == arch.Dense && !last {
		steps++
	}
	if delta != nil {
		steps++
	}
	if l.ReLU {
		steps++
	}
	// out names the output of each step, the last one y.
	out := func(name string) string {
		steps--
		if steps < 0 {
			return y
		}
		return name
	}
	pads, _ := onnxPads(l)
	var z string
	switch l.Kind {
	case arch.Conv:
		z = out(p + ".conv")
		g.node("Conv", p+".conv", []string{in, w, b}, []string{z},
			attrInts("kernel_shape", l.Kernel), attrInts("strides", l.Stride), attrInts("pads", pads...))
	case arch.ConvTranspose:
		z = out(p + ".convtranspose")
		g.node("ConvTranspose", p+".convtranspose", []string{in, w, b}, []string{z},
			attrInts("kernel_shape", l.Kernel), attrInts("strides", l.Stride), attrInts("pads", pads...))
	case arch.Dense:
		z = out(p + ".gemm")
		g.node("Gemm", p+".gemm", []string{in, w, b}, []string{z}, attrInt("transB", 1))
	}
	if delta != nil {
		// δ_c broadcast over a conv output [batch, C, L] as [C, 1], over
		// a Gemm output [batch, K] as [K].
		dims := []int{len(delta), 1}
		if l.Kind == arch.Dense {
			dims = dims[:1]
		}
		g.initFloat(p+".rounding_delta", dims, delta)
		g.node("Sign", p+".rounding_sign", []string{z}, []string{p + ".rounding_sign"})
		g.node("Mul", p+".rounding_offset", []string{p + ".rounding_sign", p + ".rounding_delta"}, []string{p + ".rounding_offset"})
		r := out(p + ".rounded")
		g.node("Add", p+".rounding_add", []string{z, p + ".rounding_offset"}, []string{r})
		z = r
	}
	if l.Kind == arch.Dense && !last {
		axes := p + ".unsqueeze_axes"
		g.initInt64(axes, []int{1}, []int64{1})
		u := out(p + ".unsqueeze")
		g.node("Unsqueeze", p+".unsqueeze", []string{z, axes}, []string{u})
		z = u
	}
	if l.ReLU {
		g.node("Relu", p+".relu", []string{z}, []string{out(p + ".relu")})
	}
}

// quantLayer adds layer i (from 0) of an integer network, from the int8
// tensor x to the int8 tensor y, in QDQ form.
func (e *onnxExporter) quantLayer(g *onnxGraph, i int, x, y string) {
	ql := &e.n.Int.Layers[i]
	l := ql.Layer
	p := "layer" + strconv.Itoa(i+1)
	if l.Kind == arch.MaxPool {
		// On the int8 values themselves: pooling keeps the order of
		// values, and the output keeps the input's scale and zero point.
		g.node("MaxPool", p+".maxpool", []string{x}, []string{y},
			attrInts("kernel_shape", l.Kernel), attrInts("strides", l.Stride))
		return
	}
	if l.Kind == arch.Dense {
		f := p + ".flat"
		g.node("Flatten", p+".flatten", []string{x}, []string{f}, attrInt("axis", 1))
		x = f
	}
	xd := p + ".input"
	g.dequantize(p+".input_dequantize", x, xd, p+".input", ql.InQ)

	ch := len(ql.B)
	var wq []int8
	var wDims []int
	axis := 0
	switch l.Kind {
	case arch.ConvTranspose:
		wq, wDims, axis = transposeIO(ql.W, l.Out.Ch, l.In.Ch, l.Kernel), []int{l.In.Ch, l.Out.Ch, l.Kernel}, 1
	case arch.Conv:
		wq, wDims = ql.W, []int{l.Out.Ch, l.In.Ch, l.Kernel}
	case arch.Dense:
		wq, wDims = ql.W, []int{l.Out.Len, l.In.Size()}
	}
	g.initInt8(p+".weight_quantized", wDims, wq)
	g.initFloat(p+".weight_scale", []int{ch}, ql.WScale)
	g.initInt8(p+".weight_zero_point", []int{ch}, make([]int8, ch))
	g.node("DequantizeLinear", p+".weight_dequantize",
		[]string{p + ".weight_quantized", p + ".weight_scale", p + ".weight_zero_point"}, []string{p + ".weight"}, attrInt("axis", axis))

	bScale := make([]float32, ch)
	for c := range bScale {
		bScale[c] = ql.InQ.Scale * ql.WScale[c] // the scale quant's int32 biases are at
	}
	g.initInt32(p+".bias_quantized", []int{ch}, ql.B)
	g.initFloat(p+".bias_scale", []int{ch}, bScale)
	g.initInt32(p+".bias_zero_point", []int{ch}, make([]int32, ch))
	g.node("DequantizeLinear", p+".bias_dequantize",
		[]string{p + ".bias_quantized", p + ".bias_scale", p + ".bias_zero_point"}, []string{p + ".bias"}, attrInt("axis", 0))

	var delta []float32
	if e.rounding == RoundTFLite {
		delta = roundingDelta(ql)
	}
	z := p + ".output"
	e.op(g, i, p, xd, p+".weight", p+".bias", z, delta)
	g.quantize(p+".output_quantize", z, y, p+".output", ql.OutQ)
}

// roundingDelta returns RoundTFLite's correction of layer l, per output
// channel in real units: 2^−(r+1)·S_out for a multiplier with right shift
// r = −Shift ≥ 1, and 0 for r = 0 or a left shift (no RoundingDivideByPOT,
// hence no second rounding); nil if it is 0 for every channel.
func roundingDelta(l *quant.Layer) []float32 {
	delta := make([]float32, len(l.B))
	some := false
	for c := range delta {
		if l.Shift[c] <= -1 {
			delta[c] = float32(math.Ldexp(float64(l.OutQ.Scale), int(l.Shift[c])-1))
			some = some || delta[c] != 0
		}
	}
	if !some {
		return nil
	}
	return delta
}

// transposeIO turns weights w[out][in][k] into w[in][out][k], ONNX's
// ConvTranspose layout.
func transposeIO[T any](w []T, out, in, k int) []T {
	t := make([]T, len(w))
	for o := range out {
		for c := range in {
			copy(t[(c*out+o)*k:][:k], w[(o*in+c)*k:][:k])
		}
	}
	return t
}

// onnxGraph accumulates a graph's nodes and initializers.
type onnxGraph struct {
	g *onnxpb.GraphProto
}

func (g *onnxGraph) node(op, name string, in, out []string, attrs ...*onnxpb.AttributeProto) {
	g.g.Node = append(g.g.Node, &onnxpb.NodeProto{
		OpType: proto.String(op), Name: proto.String(name), Input: in, Output: out, Attribute: attrs,
	})
}

// quantize adds QuantizeLinear(x) to int8 tensor y at q, its scale and
// zero point named prefix.scale and prefix.zero_point.
func (g *onnxGraph) quantize(name, x, y, prefix string, q quant.QParams) {
	s, z := g.qparams(prefix, q)
	g.node("QuantizeLinear", name, []string{x, s, z}, []string{y})
}

// dequantize adds DequantizeLinear(x) at q to float tensor y.
func (g *onnxGraph) dequantize(name, x, y, prefix string, q quant.QParams) {
	s, z := g.qparams(prefix, q)
	g.node("DequantizeLinear", name, []string{x, s, z}, []string{y})
}

// qparams adds a per-tensor scale (float32 scalar) and zero point (int8
// scalar) as initializers and returns their names.
func (g *onnxGraph) qparams(prefix string, q quant.QParams) (scale, zero string) {
	scale, zero = prefix+".scale", prefix+".zero_point"
	g.initFloat(scale, nil, []float32{q.Scale})
	g.initInt8(zero, nil, []int8{int8(q.ZeroPoint)})
	return scale, zero
}

func (g *onnxGraph) init(name string, dt onnxpb.TensorProto_DataType, dims []int, raw []byte) {
	t := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(dt)), RawData: raw}
	for _, d := range dims {
		t.Dims = append(t.Dims, int64(d))
	}
	g.g.Initializer = append(g.g.Initializer, t)
}

func (g *onnxGraph) initFloat(name string, dims []int, v []float32) {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	g.init(name, onnxpb.TensorProto_FLOAT, dims, raw)
}

func (g *onnxGraph) initInt8(name string, dims []int, v []int8) {
	raw := make([]byte, len(v))
	for i, x := range v {
		raw[i] = byte(x)
	}
	g.init(name, onnxpb.TensorProto_INT8, dims, raw)
}

func (g *onnxGraph) initInt32(name string, dims []int, v []int32) {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], uint32(x))
	}
	g.init(name, onnxpb.TensorProto_INT32, dims, raw)
}

func (g *onnxGraph) initInt64(name string, dims []int, v []int64) {
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
	}
	g.init(name, onnxpb.TensorProto_INT64, dims, raw)
}

func attrInt(name string, v int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(v))}
}

func attrInts(name string, v ...int) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum()}
	for _, x := range v {
		a.Ints = append(a.Ints, int64(x))
	}
	return a
}
