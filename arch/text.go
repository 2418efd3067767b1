package arch

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// String returns the network's text form: its tensors, input first, as
// LENxCH, then its number of classes, joined by "-", for example
// "2048x1-128x1-8x4-64x2-2". Strides follow from the lengths; kernels and
// padding follow from a KernelRule, which the text gives where it is not
// DefaultKernelRule: "/o2" for strided kernels of twice the stride
// (KernelRule.Overlap 2), "/k5" for stride-1 kernels of 5 (KernelRule.Same
// 5), as in "2048x1-256x4-32x4-5/o2". String returns "" for a network
// without layers.
//
// Only networks of the genome form — Conv and ConvTranspose hidden layers
// with the kernels of a KernelRule, then one Dense layer, as Space.Decode
// and Parse build them — are read back by Parse. For other networks, such
// as VGG11 with its MaxPool and hidden Dense layers, String still lists the
// tensors, but the text form is ambiguous (it does not record layer kinds)
// and is not parseable: Parse rejects it or, worse, rebuilds every hidden
// layer as a convolution and returns a different network.
func (n Network) String() string {
	if len(n.Layers) == 0 {
		return ""
	}
	b := make([]byte, 0, 8*(len(n.Layers)+1))
	b = appendShape(b, n.Input())
	for _, l := range n.Layers[:len(n.Layers)-1] {
		b = append(b, '-')
		b = appendShape(b, l.Out)
	}
	b = append(b, '-')
	if out := n.Layers[len(n.Layers)-1].Out; out.Ch != 1 {
		// Not a valid classifier (its last layer is no Dense), but print
		// it faithfully: such networks appear in engine tests.
		return string(appendShape(b, out))
	}
	b = strconv.AppendInt(b, int64(n.Classes()), 10)
	return string(appendKernels(b, n))
}

// appendKernels appends the text form's kernel suffixes: "/oN" when every
// strided hidden layer (Conv with stride > 1, ConvTranspose) has kernel
// N·stride with N ≠ 1, and "/kN" when every stride-1 hidden Conv has kernel
// N ≠ 3 — the two KernelRule fields, where they differ from
// DefaultKernelRule. Networks whose layers follow no single rule get no
// suffix.
func appendKernels(b []byte, n Network) []byte {
	overlap, same := 0, 0
	mixed := false
	for _, l := range n.Layers[:len(n.Layers)-1] {
		var k *int
		var v int
		switch {
		case l.Kind == ConvTranspose || (l.Kind == Conv && l.Stride > 1):
			if l.Kernel%l.Stride != 0 {
				return b
			}
			k, v = &overlap, l.Kernel/l.Stride
		case l.Kind == Conv:
			k, v = &same, l.Kernel
		default:
			continue
		}
		if *k != 0 && *k != v {
			mixed = true
		}
		*k = v
	}
	if mixed {
		return b
	}
	def := DefaultKernelRule()
	if overlap != 0 && overlap != def.Overlap {
		b = append(b, "/o"...)
		b = strconv.AppendInt(b, int64(overlap), 10)
	}
	if same != 0 && same != def.Same {
		b = append(b, "/k"...)
		b = strconv.AppendInt(b, int64(same), 10)
	}
	return b
}

func appendShape(b []byte, s Shape) []byte {
	b = strconv.AppendInt(b, int64(s.Len), 10)
	b = append(b, 'x')
	return strconv.AppendInt(b, int64(s.Ch), 10)
}

// Parse reads a network in the text form String writes: "-"-separated
// tensors LENxCH (the input first, then one per hidden layer) and a final
// class count, then optional kernel suffixes "/oN" and "/kN". Each hidden
// layer gets its kernel, stride and padding from rule, as in Space.Decode,
// with the suffixes replacing rule's Overlap and Same; the last layer is
// Dense to Shape{classes, 1}. So for a network n decoded under any rule,
// Parse(n.String(), DefaultKernelRule()) equals n, and so does
// Parse(n.String(), rule).
//
// Numbers are decimal digits only. Errors name the string, the token —
// tensors counted from 1 in the string — and the reason, for example
// `arch "2048x1-100x2-5": tensor 2 "100x2": length 100 does not divide 2048`.
// A network that Parse returns passes Validate.
func Parse(s string, rule KernelRule) (Network, error) {
	body, suffixes, _ := strings.Cut(s, "/")
	if suffixes != "" || strings.HasSuffix(s, "/") {
		for _, suf := range strings.Split(suffixes, "/") {
			var field *int
			switch {
			case strings.HasPrefix(suf, "o"):
				field = &rule.Overlap
			case strings.HasPrefix(suf, "k"):
				field = &rule.Same
			default:
				return Network{}, fmt.Errorf("arch %q: kernel suffix %q: want /oN (overlap) or /kN (stride-1 kernel)", s, "/"+suf)
			}
			v, err := parsePositive(suf[1:])
			if err != nil {
				return Network{}, fmt.Errorf("arch %q: kernel suffix %q: %w", s, "/"+suf, err)
			}
			*field = v
		}
	}
	if err := rule.check(); err != nil {
		return Network{}, fmt.Errorf("arch %q: kernel rule: %w", s, err)
	}
	tokens := strings.Split(body, "-")
	if len(tokens) < 2 {
		return Network{}, fmt.Errorf("arch %q: needs at least an input and a class count, as in \"2048x1-5\"", s)
	}
	last := len(tokens) - 1
	n := Network{Layers: make([]Layer, 0, last)}
	var prev Shape
	for i, tok := range tokens[:last] {
		sh, err := parseShape(tok)
		if err == nil && i > 0 {
			var l Layer
			if l, err = rule.hidden(prev, sh); err == nil {
				n.Layers = append(n.Layers, l)
			}
		}
		if err != nil {
			return Network{}, fmt.Errorf("arch %q: tensor %d %q: %w", s, i+1, tok, err)
		}
		prev = sh
	}
	classes, err := parsePositive(tokens[last])
	if err != nil {
		return Network{}, fmt.Errorf("arch %q: class count %q: %w", s, tokens[last], err)
	}
	n.Layers = append(n.Layers, Layer{Kind: Dense, In: prev, Out: Shape{Len: classes, Ch: 1}})
	if err := n.check(); err != nil {
		return Network{}, fmt.Errorf("arch %q: %w", s, err)
	}
	return n, nil
}

// parseShape reads "LENxCH".
func parseShape(tok string) (Shape, error) {
	l, c, ok := strings.Cut(tok, "x")
	if !ok {
		return Shape{}, errors.New("want LENxCH, as in \"128x2\"")
	}
	length, err := parsePositive(l)
	if err != nil {
		return Shape{}, fmt.Errorf("length %w", err)
	}
	ch, err := parsePositive(c)
	if err != nil {
		return Shape{}, fmt.Errorf("channels %w", err)
	}
	return Shape{Len: length, Ch: ch}, nil
}

// parsePositive reads a positive decimal integer made of digits only. Its
// errors read as a predicate of the value ("… is not a number").
func parsePositive(s string) (int, error) {
	if s == "" {
		return 0, errors.New("is missing")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a number", s)
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s is out of range", s)
	}
	if v == 0 {
		return 0, fmt.Errorf("%s must be positive", s)
	}
	return v, nil
}
