package quant

import "github.com/splitnas/splitnas/arch"

// acc is the accumulator type of a kernel: int32 for the integer
// reference, float64 for the fake-quantized float path that checks it.
type acc interface{ ~int32 | ~float64 }

// accumulate sets out to the affine output of layer l before
// requantisation: out[o] = b[o's channel] + Σ w·x over the products that
// reach output o, with x the input already offset (int8 value − input zero
// point, or its dequantized real value) and zero outside the input, which
// is what a Conv's padding is in both paths. Tensors and weights are laid
// out as in package nn: channel-major tensors (value (t, c) at c·Len + t),
// Conv and ConvTranspose weights w[co][ci][tap], Dense weights
// w[o][flattened input]. For a ConvTranspose the full output, of length
// (In.Len−1)·Stride + Kernel, is cropped by PadLeft on the left.
func accumulate[A acc](l *arch.Layer, w, b, x, out []A) {
	switch l.Kind {
	case arch.Dense:
		n := len(x)
		for o := range out {
			s := b[o]
			for i, wv := range w[o*n : (o+1)*n] {
				s += wv * x[i]
			}
			out[o] = s
		}
	case arch.Conv:
		inLen, outLen, k := l.In.Len, l.Out.Len, l.Kernel
		for co := range l.Out.Ch {
			for t := range outLen {
				s := b[co]
				start := t*l.Stride - l.PadLeft
				for ci := range l.In.Ch {
					wr, xr := w[(co*l.In.Ch+ci)*k:][:k], x[ci*inLen:(ci+1)*inLen]
					for j, wv := range wr {
						if p := start + j; p >= 0 && p < inLen {
							s += wv * xr[p]
						}
					}
				}
				out[co*outLen+t] = s
			}
		}
	case arch.ConvTranspose:
		inLen, outLen, k := l.In.Len, l.Out.Len, l.Kernel
		for co := range l.Out.Ch {
			yr := out[co*outLen : (co+1)*outLen]
			for u := range yr {
				yr[u] = b[co]
			}
			for ci := range l.In.Ch {
				wr, xr := w[(co*l.In.Ch+ci)*k:][:k], x[ci*inLen:(ci+1)*inLen]
				for t, xv := range xr {
					for j, wv := range wr {
						if u := t*l.Stride + j - l.PadLeft; u >= 0 && u < outLen {
							yr[u] += wv * xv
						}
					}
				}
			}
		}
	}
}

// maxPool sets out[c][t] to the largest of in[c][t·Stride .. t·Stride+Kernel−1]
// (no padding). Quantisation keeps the order of values, so the integer and
// the float path pool the same way and the output keeps the input's
// scale and zero point.
func maxPool[T int8 | float64](l *arch.Layer, in, out []T) {
	for c := range l.Out.Ch {
		x := in[c*l.In.Len : (c+1)*l.In.Len]
		for t := range l.Out.Len {
			w := x[t*l.Stride : t*l.Stride+l.Kernel]
			m := w[0]
			for _, v := range w[1:] {
				m = max(m, v)
			}
			out[c*l.Out.Len+t] = m
		}
	}
}

// channelOf returns the output channel (the index of its bias, multiplier
// and shift) of output o of layer l: o / Out.Len for a convolution, o for a
// Dense layer.
func channelOf(l *arch.Layer, o int) int {
	if l.Kind == arch.Dense {
		return o
	}
	return o / l.Out.Len
}
