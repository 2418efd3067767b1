package chbmit

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/dataset"
)

// TestBuildNormalize checks the three normalisations on two synthetic
// recordings, where a seizure is a 150 µV rhythm and the background a
// 30 µV one: per window both have unit spread; per recording and global
// the seizure windows of a recording stay about five times louder than its
// background windows; global normalisation leaves the training split with
// mean 0 and standard deviation 1 in each channel.
func TestBuildNormalize(t *testing.T) {
	// One recording per patient, so that a patient's windows share the
	// moments of one recording.
	root := writeDB(t, []fakePatient{
		{num: 1, files: []fakeFile{{name: "chb01_01.edf", seconds: 120, seizures: []Interval{{40, 80}}}}},
		{num: 2, numbered: true, files: []fakeFile{{name: "chb02_01.edf", seconds: 120, seizures: []Interval{{12, 36}, {90, 110}}}}},
	})
	for _, tt := range []struct {
		normalize dataset.Normalize
		lo, hi    float64 // bounds on the seizure / background spread ratio within a recording
		note      string
	}{
		{dataset.NormalizeWindow, 0.999, 1.001, "each channel's window z-scored with its own mean"},
		{dataset.NormalizeRecording, 4, 6, "over its whole band-passed recording (normalize recording)"},
		{dataset.NormalizeGlobal, 4, 6, "over the training split's windows (normalize global; validation and test values not used): F7-T7 mean"},
	} {
		t.Run(tt.normalize.String(), func(t *testing.T) {
			opt := DefaultOptions()
			opt.Normalize = tt.normalize
			opt.Balance = dataset.NoBalance
			ds, err := Build(context.Background(), root, opt)
			if err != nil {
				t.Fatal(err)
			}
			if ds.Source.Settings["normalize"] != tt.normalize.String() || !hasNote(ds, tt.note) {
				t.Errorf("settings %v, notes %q", ds.Source.Settings, ds.Source.Notes)
			}
			half := ds.Length / 2
			// Mean spread of each class's windows, per patient and channel.
			type key struct {
				patient string
				channel int
				label   uint8
			}
			sum, n := map[key]float64{}, map[key]int{}
			for i := range ds.Len() {
				for c := range 2 {
					_, s := meanStd(ds.Sample(i)[c*half : (c+1)*half])
					k := key{ds.Records[i], c, ds.Labels[i]}
					sum[k] += s
					n[k]++
				}
			}
			for k := range sum {
				if k.label != seizure {
					continue
				}
				bg := key{k.patient, k.channel, nonSeizure}
				ratio := (sum[k] / float64(n[k])) / (sum[bg] / float64(n[bg]))
				if ratio < tt.lo || ratio > tt.hi {
					t.Errorf("%s channel %d: seizure windows %.3f× the spread of the background ones, want %g–%g",
						k.patient, k.channel, ratio, tt.lo, tt.hi)
				}
			}
			if tt.normalize == dataset.NormalizeGlobal {
				m, err := dataset.TrainMoments(ds, 2)
				if err != nil {
					t.Fatal(err)
				}
				for c, mc := range m {
					if math.Abs(mc.Mean) > 1e-4 || math.Abs(mc.Std-1) > 1e-4 {
						t.Errorf("channel %d of the training split after normalisation: %+v, want mean 0 and std 1", c, mc)
					}
				}
				if !hasNote(ds, "F8-T8 mean") || strings.Count(strings.Join(ds.Source.Notes, "\n"), " std ") < 2 {
					t.Errorf("notes %q lack the constants of both channels", ds.Source.Notes)
				}
			}
		})
	}
}
