package nn

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// augmenter draws a random variant of a training sample into a buffer of
// its own, so that the dataset, which training reads in place, is never
// written. Validation and test data never pass through it. A sample x of
// Channels×Length values becomes, channel by channel,
//
//	x'[c][t] = g·x[c][(t − s) mod Length] + a_c·sin(2π·f_c·t/Length + φ_c) + σ·n[c][t]
//
// with, drawn afresh for every sample,
//
//   - s uniform on the integers of [−AugmentShift, AugmentShift]: a
//     circular time shift, the same for all channels. Circular, not
//     zero-padded, so that the window keeps every one of its values and
//     with them its mean and variance (the data is z-scored per window,
//     and zero padding would change both); the price is one seam where
//     the end of the window meets its start.
//   - g uniform on [1 − AugmentScale, 1 + AugmentScale], one amplitude
//     factor for the whole sample.
//   - a_c uniform on [0, AugmentWander], f_c uniform on [0, 2) cycles per
//     window and φ_c uniform on [0, 2π): a baseline wander per channel (for
//     a 2,048-sample MIT-BIH beat window at 360 Hz, 2 cycles per window is
//     0.35 Hz, the band of respiration and electrode motion).
//   - n[c][t] independent, of mean 0 and variance 1, near-normal (see
//     addNoise): white Gaussian noise of standard deviation AugmentNoise.
//
// A magnitude of 0 turns its part off, and draws nothing from the stream,
// so each part's draws do not depend on the others being on. The stream is
// seeded from Config.Seed (its own stream, like dropout's): augmentation
// is deterministic.
type augmenter struct {
	rng              *rand.Rand
	pcg              *rand.PCG // rng's source, for the noise's raw bits
	shift            int
	scale            float64
	wander, noise    float64
	length, channels int
	buf              []float32
}

func newAugmenter(cfg Config, length, channels int) *augmenter {
	pcg := rand.NewPCG(cfg.Seed, streamAugment)
	return &augmenter{
		rng:    rand.New(pcg),
		pcg:    pcg,
		shift:  cfg.AugmentShift,
		scale:  cfg.AugmentScale,
		wander: cfg.AugmentWander,
		noise:  cfg.AugmentNoise,
		length: length, channels: channels,
		buf: make([]float32, length*channels),
	}
}

// augments reports whether cfg turns any augmentation on.
func (c Config) augments() bool {
	return c.AugmentShift > 0 || c.AugmentScale > 0 || c.AugmentWander > 0 || c.AugmentNoise > 0
}

// apply writes a random variant of x into the augmenter's buffer and
// returns it (valid until the next call). x is only read.
func (a *augmenter) apply(x []float32) []float32 { return a.applyTo(x, a.buf) }

// applyTo is apply into out (Channels×Length values), which it returns:
// batch normalisation keeps a whole batch of augmented samples.
func (a *augmenter) applyTo(x, out []float32) []float32 {
	n := a.length
	k := 0 // out[t] = x[(t + k) mod n]
	if a.shift > 0 {
		s := a.rng.IntN(2*a.shift+1) - a.shift
		k = ((-s)%n + n) % n
	}
	g := float32(1)
	if a.scale > 0 {
		g = float32(1 + a.scale*(2*a.rng.Float64()-1))
	}
	for c := range a.channels {
		src, dst := x[c*n:(c+1)*n], out[c*n:(c+1)*n]
		if a.scale > 0 {
			scaleInto(dst, src[k:], g)
			scaleInto(dst[n-k:], src[:k], g)
		} else {
			m := copy(dst, src[k:])
			copy(dst[m:], src[:k])
		}
		if a.wander > 0 {
			amp := a.wander * a.rng.Float64()
			step := 2 * math.Pi * 2 * a.rng.Float64() / float64(n)
			phase := 2 * math.Pi * a.rng.Float64()
			addSine(dst, amp, phase, step)
		}
		if a.noise > 0 {
			a.addNoise(dst)
		}
	}
	return out
}

// addNoise adds noise of standard deviation a.noise to every y[t]: the
// Irwin–Hall sum of four independent uniforms, each 16 bits of one draw
// from the augmenter's PCG, centred and scaled to unit variance. It has
// the mean, variance and symmetry of the normal distribution and is
// within 0.01 of its cumulative distribution function everywhere (excess
// kurtosis −0.3, tails cut at ±2√3 ≈ 3.46σ), at a quarter of the cost of
// rand's exact NormFloat64, which doubled the time of an epoch of the
// typical network.
//
// The bits come from wyrand (Wang Yi's generator, which passes BigCrush),
// seeded for each channel from the augmenter's PCG: a quarter of PCG's
// cost per value, inlined in the loop.
func (a *augmenter) addNoise(y []float32) {
	// Each uniform is (u + ½)/2¹⁶ with u a 16-bit integer: the sum of four
	// has mean 2 and variance 4/12, so subtract 2·2¹⁶ (in units of 2⁻¹⁶,
	// the four halves included) and multiply by √3·σ.
	k := float32(a.noise * math.Sqrt(3) / 65536)
	const off = float32(2*65536 - 2)
	state := a.pcg.Uint64()
	for t := range y {
		state += 0xa0761d6478bd642f
		hi, lo := bits.Mul64(state, state^0xe7037ed1a0b428db)
		r := hi ^ lo
		s := float32(r&0xffff) + float32(r>>16&0xffff) + float32(r>>32&0xffff) + float32(r>>48)
		y[t] += k * (s - off)
	}
}

// scaleInto sets dst[t] = g·src[t] for t < len(src).
func scaleInto(dst, src []float32, g float32) {
	dst = dst[:len(src)]
	for t, v := range src {
		dst[t] = g * v
	}
}

// addSine adds amp·sin(phase + t·step) to y[t] for every t. It rotates a
// unit vector by step per value instead of calling math.Sin, which would
// cost more than the rest of a training step; in float64 the rotation
// drifts from the exact sine by about 1e-13 over thousands of values.
//
// Four rotations run interleaved, one per value t mod 4, each stepping by
// 4·step, so that the processor need not wait for one rotation to finish
// before the next starts.
func addSine(y []float32, amp, phase, step float64) {
	s0, c0 := math.Sincos(phase)
	s1, c1 := math.Sincos(phase + step)
	s2, c2 := math.Sincos(phase + 2*step)
	s3, c3 := math.Sincos(phase + 3*step)
	s0, s1, s2, s3, c0, c1, c2, c3 = amp*s0, amp*s1, amp*s2, amp*s3, amp*c0, amp*c1, amp*c2, amp*c3
	ds, dc := math.Sincos(4 * step)
	t := 0
	for ; t+4 <= len(y); t += 4 {
		yy := y[t : t+4 : t+4]
		yy[0] += float32(s0)
		yy[1] += float32(s1)
		yy[2] += float32(s2)
		yy[3] += float32(s3)
		s0, c0 = s0*dc+c0*ds, c0*dc-s0*ds
		s1, c1 = s1*dc+c1*ds, c1*dc-s1*ds
		s2, c2 = s2*dc+c2*ds, c2*dc-s2*ds
		s3, c3 = s3*dc+c3*ds, c3*dc-s3*ds
	}
	rest := y[t:] // at most 3 values
	if len(rest) > 0 {
		rest[0] += float32(s0)
	}
	if len(rest) > 1 {
		rest[1] += float32(s1)
	}
	if len(rest) > 2 {
		rest[2] += float32(s2)
	}
}
