package testenv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/splitnas/splitnas/dataset"
)

// Waves is a small 3-class task for tests that train: sinusoids of 2, 5 and
// 11 periods per 256-sample window, with random phase, in Gaussian noise
// of standard deviation 0.5; perClass windows of each class, the first 60 %
// training, the next 20 % validation, the rest test, spread over five
// records. The same perClass always gives the same data.
func Waves(tb testing.TB, perClass int) *dataset.Dataset {
	tb.Helper()
	const length = 256
	d := dataset.New([]string{"slow", "mid", "fast"}, 1, length)
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, length)
	for class, freq := range []float64{2, 5, 11} {
		for i := range perClass {
			phase := rng.Float64() * 2 * math.Pi
			for j := range x {
				x[j] = float32(math.Sin(2*math.Pi*freq*float64(j)/length+phase) + 0.5*rng.NormFloat64())
			}
			if err := d.Add(x, class, fmt.Sprintf("r%d", i%5)); err != nil {
				tb.Fatal(err)
			}
			switch {
			case i >= perClass*8/10:
				d.Splits[len(d.Splits)-1] = dataset.Test
			case i >= perClass*6/10:
				d.Splits[len(d.Splits)-1] = dataset.Val
			}
		}
	}
	return d
}
