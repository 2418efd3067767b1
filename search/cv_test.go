package search

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/dataset"
)

// Folds cover every sample exactly once; by record they keep records
// whole and stay within one record of the same size, by sample each class
// is dealt evenly; too few records or samples for the folds are refused.
func TestCVFolds(t *testing.T) {
	d := dataset.New([]string{"a", "b"}, 1, 4)
	x := make([]float32, 4)
	for r := range 9 {
		for i := range 10 + r { // records of 10…18 samples
			if err := d.Add(x, (i+r)%2, fmt.Sprintf("rec%d", r)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, byRecord := range []bool{true, false} {
		t.Run(fmt.Sprintf("by record %v", byRecord), func(t *testing.T) {
			folds, err := cvFolds(d, 4, byRecord, 7)
			if err != nil {
				t.Fatal(err)
			}
			seen := make([]int, d.Len())
			for f, idx := range folds {
				if !slices.IsSorted(idx) || len(idx) == 0 {
					t.Errorf("fold %d: %d samples, sorted %v", f, len(idx), slices.IsSorted(idx))
				}
				counts := map[string]int{}
				for _, i := range idx {
					seen[i]++
					counts[d.Records[i]]++
				}
				if byRecord {
					for r, n := range counts {
						if want := 10 + int(r[3]-'0'); n != want {
							t.Errorf("fold %d holds %d of record %s's %d samples", f, n, r, want)
						}
					}
				}
			}
			for i, n := range seen {
				if n != 1 {
					t.Fatalf("sample %d is in %d folds", i, n)
				}
			}
			sizes := make([]int, len(folds))
			for f, idx := range folds {
				sizes[f] = len(idx)
			}
			spread := slices.Max(sizes) - slices.Min(sizes)
			if byRecord && spread > 18 || !byRecord && spread > 2 {
				t.Errorf("fold sizes %v", sizes)
			}
			again, _ := cvFolds(d, 4, byRecord, 7)
			if !reflect.DeepEqual(folds, again) {
				t.Error("the same seed gives other folds")
			}
		})
	}
	if _, err := cvFolds(d, 10, true, 1); err == nil || !strings.Contains(err.Error(), "10 folds of whole records, but the training and validation splits hold 9 records") {
		t.Errorf("10 folds of 9 records: %v", err)
	}
}

// With CVFolds the final model is the shortlisted candidate with the best
// mean fold score; the shortlist is the start of the pick order; the
// result does not depend on the worker count; the folds hold the training
// and validation samples, not the test samples.
func TestCrossValidation(t *testing.T) {
	d := waves(t)
	cfg := smallConfig(t)
	cfg.CVFolds, cfg.CVTop = 3, 4
	var results []*Result
	for _, workers := range []int{1, 3} {
		cfg.Workers = workers
		r, err := Run(context.Background(), cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		cv := r.Best.CV
		if cv == nil || cv.Folds != 3 || cv.By != halvesBySample || len(cv.Candidates) != 4 {
			t.Fatalf("cv = %+v, want 3 folds by sample of 4 candidates", cv)
		}
		if n := d.SplitCounts(); cv.FoldSizes[0]+cv.FoldSizes[1]+cv.FoldSizes[2] != n[dataset.Train]+n[dataset.Val] {
			t.Errorf("fold sizes %v, want the %d training and validation samples", cv.FoldSizes, n[dataset.Train]+n[dataset.Val])
		}
		order := (&searcher{cfg: cfg, cands: r.Candidates}).pickOrder()
		for n, c := range cv.Candidates {
			if c.ID != order[n] {
				t.Errorf("shortlist %d is candidate %d, the pick order's is %d", n, c.ID, order[n])
			}
			var sum float64
			for _, v := range c.Scores {
				if v <= 0 || v > 1 {
					t.Errorf("candidate %d: fold score %v", c.ID, v)
				}
				sum += v
			}
			if c.Mean != sum/3 {
				t.Errorf("candidate %d: mean %v of %v", c.ID, c.Mean, c.Scores)
			}
			if c.Mean > cv.Candidates[cv.Chosen].Mean || c.Mean == cv.Candidates[cv.Chosen].Mean && n < cv.Chosen {
				t.Errorf("candidate %d (mean %.4f) beats the chosen one %d (%.4f)", n, c.Mean, cv.Chosen, cv.Candidates[cv.Chosen].Mean)
			}
		}
		if ch := cv.Candidates[cv.Chosen]; r.Best.Arch != ch.Arch {
			t.Errorf("best is %s, the cross-validation chose %s", r.Best.Arch, ch.Arch)
		}
		if r.Settings.CVFolds != 3 || r.Settings.CVTop != 4 {
			t.Errorf("settings: cv_folds %d, cv_top %d", r.Settings.CVFolds, r.Settings.CVTop)
		}
		results = append(results, timeless(r))
	}
	if !reflect.DeepEqual(results[0].Best, results[1].Best) {
		t.Errorf("cross-validation depends on the worker count:\n%+v\n%+v", results[0].Best.CV, results[1].Best.CV)
	}
	t.Run("too many folds of records", func(t *testing.T) {
		d := waves(t)
		for i := range d.Records {
			d.Records[i] = fmt.Sprintf("r%d", i%5) // records 0…4 everywhere: not record-disjoint
			if d.Splits[i] == dataset.Val {
				d.Records[i] = "v" // one validation record no training sample comes from
			}
		}
		cfg := cfg
		cfg.CVFolds = 7
		_, err := Run(context.Background(), cfg, d)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "CVFolds" || !strings.Contains(err.Error(), "7 folds of whole records, but the training and validation splits hold 6 records") {
			t.Errorf("error = %v", err)
		}
	})
}
