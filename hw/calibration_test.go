package hw

import (
	"math"
	"os"
	"testing"
)

// The default profile's latency models are the fit of the committed
// emulator measurements (hw/calibration, README "Calibration").
func TestDefaultProfileIsTheCommittedFit(t *testing.T) {
	const csv = "calibration/stm32l476_f32.csv"
	f, err := os.Open(csv)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms, err := ReadMeasurements(f, csv, 80e6)
	if err != nil {
		t.Fatal(err)
	}
	fits, err := Fit(ms)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"stm32l476", "stm32l476-rpi4"} {
		p, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range fits {
			if r.R2 < 0.99 {
				t.Errorf("%s: R² %.4f < 0.99", r.Kind, r.R2)
			}
			got, want := p.Edge.Latency[r.Kind].Coefficients(), r.Model.Coefficients()
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-9*math.Max(1, math.Abs(want[i])) {
					t.Errorf("%s: %s.%s = %v, the fit of %s gives %v", name, r.Kind, FeatureNames()[i], got[i], csv, want[i])
				}
			}
		}
	}
}
