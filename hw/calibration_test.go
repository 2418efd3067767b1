package hw

import (
	"math"
	"os"
	"testing"
)

// The calibrated profiles' latency models are the fits of the committed
// emulator measurements (hw/calibration, README "Calibration"): float32 for
// the default profile (and the edge of stm32l476-rpi4), int8 for
// stm32l476-int8, int4 for stm32l476-int4. minR2 bounds the fit's R², on
// its own and on the held-out file: 0.99, except for int4, whose four-term
// model only predicts layers outside its layer table and follows the
// unpacking kernels' paths loosely (README "Calibration").
var calibrations = []struct {
	csv, holdout string
	profiles     []string
	minR2        float64
}{
	{"calibration/stm32l476_f32.csv", "calibration/stm32l476_f32_holdout.csv", []string{"stm32l476", "stm32l476-rpi4"}, 0.99},
	{"calibration/stm32l476_int8.csv", "calibration/stm32l476_int8_holdout.csv", []string{"stm32l476-int8"}, 0.99},
	{"calibration/stm32l476_int4.csv", "calibration/stm32l476_int4_holdout.csv", []string{"stm32l476-int4"}, 0.95},
}

func readCalibration(t *testing.T, path string) []Measurement {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms, err := ReadMeasurements(f, path, 80e6)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestCalibratedProfilesAreTheCommittedFits(t *testing.T) {
	for _, c := range calibrations {
		fits, err := Fit(readCalibration(t, c.csv))
		if err != nil {
			t.Fatal(err)
		}
		if len(fits) != 3 {
			t.Errorf("%s: %d kinds fitted, want conv1d, conv1d_transpose and dense", c.csv, len(fits))
		}
		for _, r := range fits {
			if r.R2 < c.minR2 {
				t.Errorf("%s, %s: R² %.4f < %v", c.csv, r.Kind, r.R2, c.minR2)
			}
		}
		for _, name := range c.profiles {
			p, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range fits {
				got, want := p.Edge.Latency[r.Kind].Coefficients(), r.Model.Coefficients()
				for i := range got {
					if math.Abs(got[i]-want[i]) > 1e-9*math.Max(1, math.Abs(want[i])) {
						t.Errorf("%s: %s.%s = %v, the fit of %s gives %v", name, r.Kind, FeatureNames()[i], got[i], c.csv, want[i])
					}
				}
			}
		}
	}
}

// The fits predict the held-out measurements (other layers, other data)
// with R² ≥ minR2 per kind.
func TestCalibrationHoldout(t *testing.T) {
	for _, c := range calibrations {
		fits, err := Fit(readCalibration(t, c.csv))
		if err != nil {
			t.Fatal(err)
		}
		held := readCalibration(t, c.holdout)
		for _, r := range fits {
			var mine []Measurement
			for _, m := range held {
				if m.Kind.String() == r.Kind {
					mine = append(mine, m)
				}
			}
			if len(mine) < 10 {
				t.Errorf("%s: %d held-out %s layers, want at least 10", c.holdout, len(mine), r.Kind)
				continue
			}
			r2, med, p95 := Evaluate(r.Model, mine)
			t.Logf("%s, %s: %d held out, R² %.4f, median %.2f %%, p95 %.2f %%", c.holdout, r.Kind, len(mine), r2, 100*med, 100*p95)
			if r2 < c.minR2 {
				t.Errorf("%s, %s: held-out R² %.4f < %v", c.holdout, r.Kind, r2, c.minR2)
			}
		}
	}
}
