package arch

import (
	"errors"
	"fmt"
	"math"
)

// maxCount bounds every count Validate accepts — a tensor's size, a layer's
// or the network's weights, biases and MACs — so that bit and byte totals
// (at most 32 bits a value) cannot overflow an int. On 64-bit platforms it
// is 2⁵⁵, far beyond any network a microcontroller can hold.
const maxCount = math.MaxInt >> 8

// mulCapped returns a·b for a, b ≥ 0 and whether it is at most maxCount.
func mulCapped(a, b int) (int, bool) {
	if b != 0 && a > maxCount/b {
		return 0, false
	}
	return a * b, true
}

// addCapped returns a+b for a, b ≥ 0 and whether it is at most maxCount.
func addCapped(a, b int) (int, bool) {
	if a > maxCount-b {
		return 0, false
	}
	return a + b, true
}

// productCapped returns the product of non-negative xs and whether it (and
// every partial product) is at most maxCount.
func productCapped(xs ...int) (int, bool) {
	p := 1
	for _, x := range xs {
		var ok bool
		if p, ok = mulCapped(p, x); !ok {
			return 0, false
		}
	}
	return p, true
}

// Validate reports the first problem with a network built by hand (networks
// from Decode, Parse and VGG11 always pass). It checks that
//
//   - there is at least one layer, and every tensor has a positive length
//     and channel count;
//   - each layer's input is the previous layer's output (shapes chain; any
//     kind may follow any other);
//   - every layer but the last is a Conv, ConvTranspose, MaxPool or Dense;
//   - a Conv or ConvTranspose has ReLU, Kernel ≥ 1, Stride ≥ 1,
//     PadLeft, PadRight ≥ 0, and the output length the formula of its kind
//     gives (see Layer);
//   - a MaxPool has no ReLU, Kernel ≥ 1, Stride ≥ 1, no padding,
//     Kernel ≤ In.Len, Out.Ch = In.Ch and Out.Len = (In.Len−Kernel)/Stride+1;
//   - a Dense layer has Out.Ch = 1 and no kernel, stride or padding set;
//     hidden Dense layers have a ReLU;
//   - the last layer is Dense, without ReLU;
//   - no tensor size, weight, bias or MAC count, nor the network's totals,
//     exceeds 2⁵⁵ (on 64-bit platforms), so that the metrics cannot
//     overflow.
//
// Layers are counted from 1 in its messages, as in the split point.
func (n Network) Validate() error {
	if err := n.check(); err != nil {
		return fmt.Errorf("arch: %w", err)
	}
	return nil
}

func (n Network) check() error {
	if len(n.Layers) == 0 {
		return errors.New("network has no layers")
	}
	in := n.Layers[0].In
	if err := checkShape(in); err != nil {
		return fmt.Errorf("input: %w", err)
	}
	var params, macs int
	for i, l := range n.Layers {
		if l.In != in {
			return fmt.Errorf("layer %d (%v): input %v does not match the previous output %v", i+1, l.Kind, l.In, in)
		}
		if err := l.check(i == len(n.Layers)-1); err != nil {
			return fmt.Errorf("layer %d (%v): %w", i+1, l.Kind, err)
		}
		var ok bool
		if params, ok = addCapped(params, l.Params()); !ok {
			return errors.New("network has too many parameters")
		}
		if macs, ok = addCapped(macs, l.MACs()); !ok {
			return errors.New("network has too many MACs")
		}
		in = l.Out
	}
	return nil
}

func checkShape(s Shape) error {
	if s.Len < 1 || s.Ch < 1 {
		return fmt.Errorf("shape %v must have a positive length and channel count", s)
	}
	if _, ok := mulCapped(s.Len, s.Ch); !ok {
		return fmt.Errorf("shape %v is too large", s)
	}
	return nil
}

// check checks one layer whose input shape is known to be valid; last
// tells whether it is the network's final layer.
func (l Layer) check(last bool) error {
	if err := checkShape(l.Out); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	switch l.Kind {
	case Conv, ConvTranspose:
		if last {
			return errors.New("the last layer must be dense")
		}
		if !l.ReLU {
			return errors.New("a hidden layer must have a ReLU")
		}
		if l.Kernel < 1 || l.Stride < 1 {
			return fmt.Errorf("kernel %d and stride %d must be positive", l.Kernel, l.Stride)
		}
		if l.PadLeft < 0 || l.PadRight < 0 {
			return fmt.Errorf("padding %d/%d must not be negative", l.PadLeft, l.PadRight)
		}
		if err := l.checkLength(); err != nil {
			return err
		}
		if _, ok := productCapped(l.Kernel, l.In.Ch, l.Out.Ch); !ok {
			return errors.New("too many weights")
		}
		if _, ok := productCapped(l.Out.Len, l.Out.Ch, l.Kernel, l.In.Ch); !ok {
			return errors.New("too many MACs")
		}
		if _, ok := productCapped(l.In.Len, l.In.Ch, l.Out.Ch, l.Kernel); !ok {
			return errors.New("too many MACs")
		}
	case MaxPool:
		if last {
			return errors.New("the last layer must be dense")
		}
		if l.ReLU {
			return errors.New("a maxpool1d layer must not have a ReLU")
		}
		if l.Kernel < 1 || l.Stride < 1 {
			return fmt.Errorf("kernel %d and stride %d must be positive", l.Kernel, l.Stride)
		}
		if l.PadLeft != 0 || l.PadRight != 0 {
			return fmt.Errorf("padding %d/%d must be 0 (a maxpool1d layer has no padding)", l.PadLeft, l.PadRight)
		}
		if l.Out.Ch != l.In.Ch {
			return fmt.Errorf("output channels %d, want the input's %d", l.Out.Ch, l.In.Ch)
		}
		if l.Kernel > l.In.Len {
			return fmt.Errorf("kernel %d is longer than the input (%d)", l.Kernel, l.In.Len)
		}
		if want := (l.In.Len-l.Kernel)/l.Stride + 1; l.Out.Len != want {
			return fmt.Errorf("output length %d, want (%d−%d)/%d+1 = %d",
				l.Out.Len, l.In.Len, l.Kernel, l.Stride, want)
		}
	case Dense:
		if last && l.ReLU {
			return errors.New("the last layer must not have a ReLU (it emits logits)")
		}
		if !last && !l.ReLU {
			return errors.New("a hidden layer must have a ReLU")
		}
		if l.Out.Ch != 1 {
			return fmt.Errorf("output %v must have 1 channel", l.Out)
		}
		if l.Kernel != 0 || l.Stride != 0 || l.PadLeft != 0 || l.PadRight != 0 {
			return errors.New("a dense layer must have no kernel, stride or padding")
		}
		if _, ok := productCapped(l.In.Len, l.In.Ch, l.Out.Len, l.Out.Ch); !ok {
			return errors.New("too many weights")
		}
	default:
		return errors.New("unknown layer kind")
	}
	return nil
}

// checkLength checks a Conv or ConvTranspose output length against its
// formula; Kernel, Stride and padding are known to be in range.
func (l Layer) checkLength() error {
	if l.Kind == Conv {
		padded, ok := addCapped(l.In.Len, l.PadLeft)
		if ok {
			padded, ok = addCapped(padded, l.PadRight)
		}
		if !ok {
			return errors.New("padding is too large")
		}
		if padded < l.Kernel {
			return fmt.Errorf("kernel %d is longer than the padded input (%d)", l.Kernel, padded)
		}
		if want := (padded-l.Kernel)/l.Stride + 1; l.Out.Len != want {
			return fmt.Errorf("output length %d, want (%d+%d+%d−%d)/%d+1 = %d",
				l.Out.Len, l.In.Len, l.PadLeft, l.PadRight, l.Kernel, l.Stride, want)
		}
		return nil
	}
	full, ok := mulCapped(l.In.Len-1, l.Stride)
	if ok {
		full, ok = addCapped(full, l.Kernel)
	}
	if !ok {
		return errors.New("kernel or stride is too large")
	}
	if l.PadLeft > full || l.PadRight > full-l.PadLeft {
		return fmt.Errorf("cropping %d+%d exceeds the full output (%d)", l.PadLeft, l.PadRight, full)
	}
	if want := full - l.PadLeft - l.PadRight; l.Out.Len != want {
		return fmt.Errorf("output length %d, want (%d−1)·%d+%d−%d−%d = %d",
			l.Out.Len, l.In.Len, l.Stride, l.Kernel, l.PadLeft, l.PadRight, want)
	}
	return nil
}
