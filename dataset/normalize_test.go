package dataset

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// byRecord returns a dataset whose record "r<i>" holds counts[i][c] samples
// of class c, all in the training split, each with value i.
func byRecord(counts [][]int) *Dataset {
	d := New([]string{"N", "S", "F"}[:len(counts[0])], 1, 2)
	for r, cs := range counts {
		for c, n := range cs {
			for range n {
				if err := d.Add([]float32{float32(r), float32(r)}, c, fmt.Sprintf("r%02d", r)); err != nil {
					panic(err)
				}
			}
		}
	}
	return d
}

func TestHoldOutRecords(t *testing.T) {
	// 20 records of 100 samples; S in five of them, F only in r03 (most
	// of it) and r11.
	var many [][]int
	for r := range 20 {
		c := []int{100, 0, 0}
		if r%4 == 1 {
			c = []int{90, 10, 0}
		}
		many = append(many, c)
	}
	many[3], many[11] = []int{60, 0, 40}, []int{95, 0, 5}
	for _, tt := range []struct {
		name       string
		counts     [][]int
		test       []string // records put in the test split first
		wantVal    []string // nil: check the rule only
		wantAbsent []string // classes validation cannot have
		wantErr    string
	}{
		{name: "many records", counts: many, test: []string{"r00", "r19"}},
		{name: "rare class all in one record", counts: [][]int{{30, 0, 0}, {30, 5, 0}, {30, 0, 0}, {30, 0, 0}, {30, 0, 9},
			{30, 0, 0}, {30, 5, 0}, {30, 0, 0}, {30, 0, 0}, {30, 0, 0}, {30, 0, 0}, {30, 0, 0}}, wantAbsent: []string{"F"}},
		{name: "no record fits: the smallest", counts: [][]int{{100, 10}, {50, 10}}, wantVal: []string{"r01"}},
		{name: "one record", counts: [][]int{{100, 10}}, wantErr: "the training split has 1 record(s), want at least 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := byRecord(tt.counts)
			for i, r := range d.Records {
				if slices.Contains(tt.test, r) {
					d.Splits[i] = Test
				}
			}
			before := d.Subset(d.Indices(Test))
			h := ValidationHoldout()
			val, err := HoldOutRecords(d, h, 7)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if after := d.Subset(d.Indices(Test)); !slices.Equal(after.Records, before.Records) {
				t.Error("the test split changed")
			}
			where := map[string]Split{}
			for i, r := range d.Records {
				if s, ok := where[r]; ok && s != d.Splits[i] {
					t.Fatalf("record %s in %v and %v", r, s, d.Splits[i])
				}
				where[r] = d.Splits[i]
			}
			var gotVal []string
			for r, s := range where {
				if s == Val {
					gotVal = append(gotVal, r)
				}
			}
			slices.Sort(gotVal)
			if !slices.Equal(gotVal, val) {
				t.Errorf("returned %v, validation holds %v", val, gotVal)
			}
			if tt.wantVal != nil {
				if !slices.Equal(val, tt.wantVal) {
					t.Errorf("validation %v, want %v", val, tt.wantVal)
				}
				return
			}
			c := d.SplitCounts()
			share := float64(c[Val]) / float64(c[Train]+c[Val])
			if share < h.Min || share > h.Max {
				t.Errorf("validation holds %.3f of the samples, want %g–%g", share, h.Min, h.Max)
			}
			tr, va := d.Part(Train).ClassCounts(), d.Part(Val).ClassCounts()
			for k, name := range d.Classes {
				if float64(va[k]) > h.MaxClassShare*float64(tr[k]+va[k]) {
					t.Errorf("class %s: %d of %d in validation, more than half", name, va[k], tr[k]+va[k])
				}
				if absent := slices.Contains(tt.wantAbsent, name); (va[k] == 0) != absent && tr[k]+va[k] > 0 {
					t.Errorf("class %s: %d in validation, want absent %v", name, va[k], absent)
				}
			}
			// The same seed, the same records; another seed may differ.
			again := byRecord(tt.counts)
			for i, r := range again.Records {
				if slices.Contains(tt.test, r) {
					again.Splits[i] = Test
				}
			}
			if v, err := HoldOutRecords(again, h, 7); err != nil || !slices.Equal(v, val) {
				t.Errorf("same seed: %v, %v; want %v", v, err, val)
			}
		})
	}
	if _, err := HoldOutRecords(byRecord(many), Holdout{Min: 0.3, Max: 0.2}, 1); err == nil {
		t.Error("Min above Max accepted")
	}
}

// TestTrainMoments checks that the normalisation constants come from the
// training split only, per block, and that Standardize applies them to
// every split.
func TestTrainMoments(t *testing.T) {
	d := New([]string{"a"}, 2, 3)
	add := func(x []float32, s Split) {
		if err := d.Add(x, 0, "r"); err != nil {
			t.Fatal(err)
		}
		d.Splits[len(d.Splits)-1] = s
	}
	add([]float32{1, 2, 3, 10, 10, 10}, Train)
	add([]float32{3, 4, 5, 30, 30, 30}, Train)
	add([]float32{100, 100, 100, -5, -5, -5}, Val)
	add([]float32{7, 7, 7, 7, 7, 7}, Test)
	// Channel 0 of the training split: 1..5 with 3 and 2, 4 twice →
	// mean 3, variance (4+1+0+0+1+4)/6; channel 1: 10 and 30 → 20, 10.
	want := []Moments{{3, math.Sqrt(10.0 / 6)}, {20, 10}}
	for _, tt := range []struct {
		name string
		edit func(d *Dataset)
	}{
		{"as built", func(*Dataset) {}},
		{"a test value changed", func(d *Dataset) { d.Sample(3)[0] = 1e6 }},
		{"a validation value changed", func(d *Dataset) { d.Sample(2)[4] = -1e6 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := d.Subset([]int{0, 1, 2, 3})
			tt.edit(c)
			m, err := TrainMoments(c, 2)
			if err != nil {
				t.Fatal(err)
			}
			for b := range want {
				if math.Abs(m[b].Mean-want[b].Mean) > 1e-9 || math.Abs(m[b].Std-want[b].Std) > 1e-9 {
					t.Errorf("block %d: %+v, want %+v", b, m[b], want[b])
				}
			}
			if err := Standardize(c, m); err != nil {
				t.Fatal(err)
			}
			if got := c.Sample(1); math.Abs(float64(got[3])-1) > 1e-6 || math.Abs(float64(got[1])-1/want[0].Std) > 1e-6 {
				t.Errorf("standardised training sample %v", got)
			}
			if got := c.Sample(2)[3]; tt.name == "as built" && math.Abs(float64(got)-(-2.5)) > 1e-6 {
				t.Errorf("validation value -5 became %g, want (−5−20)/10 = −2.5", got)
			}
		})
	}
	// A flat channel is only centred, and a split without training
	// samples has no moments.
	flat := New([]string{"a"}, 1, 2)
	if err := flat.Add([]float32{4, 4}, 0, "r"); err != nil {
		t.Fatal(err)
	}
	m, err := TrainMoments(flat, 1)
	if err != nil || m[0] != (Moments{4, 0}) {
		t.Fatalf("flat: %v, %v", m, err)
	}
	if err := Standardize(flat, m); err != nil || !slices.Equal(flat.X, []float32{0, 0}) {
		t.Errorf("flat standardised to %v, %v", flat.X, err)
	}
	flat.Splits[0] = Test
	if _, err := TrainMoments(flat, 1); !errors.Is(err, ErrEmptySplit) {
		t.Errorf("no training samples: %v, want ErrEmptySplit", err)
	}
	for _, tt := range []struct {
		name string
		run  func() error
	}{
		{"blocks do not divide", func() error { _, err := TrainMoments(d, 4); return err }},
		{"no blocks", func() error { _, err := TrainMoments(d, 0); return err }},
		{"moments do not divide", func() error { return Standardize(d, make([]Moments, 4)) }},
		{"NaN moment", func() error { return Standardize(d, []Moments{{math.NaN(), 1}}) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v, want one wrapping ErrInvalid", err)
			}
		})
	}
}
