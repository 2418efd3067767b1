// Package dsp holds the small signal-processing steps used to turn raw
// recordings into training windows: a zero-phase Butterworth band-pass,
// resampling of a window to a fixed length, and z-score normalisation.
package dsp

import (
	"fmt"
	"math"
)

// biquad is one second-order IIR section, normalised so that a0 = 1, run in
// direct form II transposed.
type biquad struct{ b0, b1, b2, a1, a2 float64 }

// butterworth2 designs a second-order Butterworth low-pass (high=false) or
// high-pass (high=true) section at cutoff fc for sampling rate fs, by the
// bilinear transform with pre-warping (R. Bristow-Johnson's cookbook).
func butterworth2(fc, fs float64, high bool) biquad {
	w0 := 2 * math.Pi * fc / fs
	// Q = 1/√2 (Butterworth), so α = sin(w0)/(2Q) = sin(w0)/√2.
	cos, alpha := math.Cos(w0), math.Sin(w0)/math.Sqrt2
	a0 := 1 + alpha
	q := biquad{a1: -2 * cos / a0, a2: (1 - alpha) / a0}
	if high {
		q.b0, q.b1, q.b2 = (1+cos)/2/a0, -(1+cos)/a0, (1+cos)/2/a0
	} else {
		q.b0, q.b1, q.b2 = (1-cos)/2/a0, (1-cos)/a0, (1-cos)/2/a0
	}
	return q
}

// dcGain is the section's response to a constant input.
func (q biquad) dcGain() float64 { return (q.b0 + q.b1 + q.b2) / (1 + q.a1 + q.a2) }

// run filters x in place, starting from the steady state for a constant
// input equal to x[0] (as scipy's lfilter_zi), so a signal that starts away
// from zero does not ring.
func (q biquad) run(x []float64) {
	if len(x) == 0 {
		return
	}
	y0 := x[0] * q.dcGain()
	z1 := y0 - q.b0*x[0]
	z2 := q.b2*x[0] - q.a2*y0
	for i, v := range x {
		y := q.b0*v + z1
		z1 = q.b1*v - q.a1*y + z2
		z2 = q.b2*v - q.a2*y
		x[i] = y
	}
}

// Bandpass is a zero-phase band-pass filter: a second-order Butterworth
// high-pass and low-pass in cascade, run forwards then backwards, which gives
// a fourth-order magnitude response (|H|² of the one-way filter) and no phase
// shift.
type Bandpass struct {
	Low, High, Fs float64
	sections      [2]biquad
}

// NewBandpass designs a band-pass from low to high Hz for sampling rate fs.
func NewBandpass(low, high, fs float64) (*Bandpass, error) {
	if !(low > 0 && low < high && high < fs/2) || math.IsInf(fs, 0) {
		return nil, fmt.Errorf("dsp: band-pass %g–%g Hz needs 0 < low < high < fs/2 = %g Hz", low, high, fs/2)
	}
	return &Bandpass{Low: low, High: high, Fs: fs, sections: [2]biquad{
		butterworth2(low, fs, true),
		butterworth2(high, fs, false),
	}}, nil
}

// padLen is how many reflected samples are added at each end before
// filtering: three periods of the low cut-off, so the start-up transient
// dies out before the real signal begins.
func (b *Bandpass) padLen(n int) int {
	p := math.Ceil(3 * b.Fs / b.Low)
	if !(p < float64(n-1)) { // also catches +Inf, which int() would wrap
		return n - 1
	}
	return int(p)
}

// Apply returns the zero-phase filtered copy of x. The ends are extended by
// odd reflection (2·x[0] − x[k]), as scipy's filtfilt does.
func (b *Bandpass) Apply(x []float64) []float64 {
	n := len(x)
	if n < 2 {
		return append([]float64(nil), x...)
	}
	p := b.padLen(n)
	ext := make([]float64, n+2*p)
	for k := 1; k <= p; k++ {
		ext[p-k] = 2*x[0] - x[k]
		ext[p+n-1+k] = 2*x[n-1] - x[n-1-k]
	}
	copy(ext[p:], x)
	for _, s := range b.sections {
		s.run(ext)
	}
	reverse(ext)
	for _, s := range b.sections {
		s.run(ext)
	}
	reverse(ext)
	return ext[p : p+n : p+n]
}

func reverse(x []float64) {
	for i, j := 0, len(x)-1; i < j; i, j = i+1, j-1 {
		x[i], x[j] = x[j], x[i]
	}
}

// Resample returns x stretched or shrunk to n samples. Growing uses linear
// interpolation with the first and last samples kept in place; shrinking
// averages the input over each output sample's interval (a box anti-alias
// filter), so energy is not aliased from the dropped samples.
func Resample(x []float64, n int) []float64 {
	m := len(x)
	out := make([]float64, max(n, 0))
	switch {
	case m == 0 || n <= 0:
		return out
	case n == m:
		copy(out, x)
	case n > m:
		if m == 1 || n == 1 {
			for i := range out {
				out[i] = x[0]
			}
			return out
		}
		for i := range out {
			// exact at i = n-1, so the last sample is kept in place
			pos := float64(i*(m-1)) / float64(n-1)
			j := min(int(pos), m-2)
			f := pos - float64(j)
			out[i] = x[j]*(1-f) + x[j+1]*f
		}
	default:
		step := float64(m) / float64(n)
		for i := range out {
			lo, hi := float64(i)*step, float64(i+1)*step
			sum := 0.0
			for j := int(lo); j < m && float64(j) < hi; j++ {
				// overlap of input cell [j, j+1) with [lo, hi)
				w := math.Min(hi, float64(j+1)) - math.Max(lo, float64(j))
				sum += w * x[j]
			}
			out[i] = sum / step
		}
	}
	return out
}

// ZScore writes (x − mean)/std of x into dst (len(dst) == len(x)) as float32.
// A flat window (std below 1e-12) is only centred.
func ZScore(dst []float32, x []float64) {
	if len(x) == 0 {
		return
	}
	// Work relative to x[0], so a flat window sums to exactly 0 whatever
	// its offset, and large offsets lose less precision.
	shift := x[0]
	mean := 0.0
	for _, v := range x {
		mean += v - shift
	}
	mean /= float64(len(x))
	ss := 0.0
	for _, v := range x {
		d := v - shift - mean
		ss += d * d
	}
	std := math.Sqrt(ss / float64(len(x)))
	if std < 1e-12 {
		std = 1
	}
	for i, v := range x {
		dst[i] = float32((v - shift - mean) / std)
	}
}

// MeanStd returns the mean and population standard deviation of x (0, 0
// for an empty x), summed relative to x[0] as ZScore does.
func MeanStd(x []float64) (mean, std float64) {
	if len(x) == 0 {
		return 0, 0
	}
	shift := x[0]
	for _, v := range x {
		mean += v - shift
	}
	mean /= float64(len(x))
	ss := 0.0
	for _, v := range x {
		d := v - shift - mean
		ss += d * d
	}
	return shift + mean, math.Sqrt(ss / float64(len(x)))
}

// Scale writes (x − mean)/std into dst (len(dst) == len(x)) as float32: a
// z-score with given moments, such as those of the whole recording a window
// was cut from. A std below 1e-12 counts as 1 (the window is only centred),
// as in ZScore.
func Scale(dst []float32, x []float64, mean, std float64) {
	if std < 1e-12 {
		std = 1
	}
	for i, v := range x {
		dst[i] = float32((v - mean) / std)
	}
}
