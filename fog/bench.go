package fog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/splitnas/splitnas/internal/stats"
)

// Load is a fixed amount of inference requests for Bench.
type Load struct {
	Model string // the model's name on the server
	Split int    // split point P of every request
	Dtype string // Model.Dtype
	// Payloads are the tensors sent, in turn; Want, if not nil, the class
	// each must get (one per payload).
	Payloads [][]byte
	Want     []int
	Clients  int // concurrent clients, ≥ 1
	Requests int // requests in all, ≥ Clients
}

// BenchResult is what Bench measured. Latencies are of whole requests as
// a client sees them (send, fog compute, receive), in milliseconds.
type BenchResult struct {
	Clients    int     `json:"clients"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`         // failed requests and wrong classes
	Seconds    float64 `json:"seconds"`        // wall time of the whole run
	Throughput float64 `json:"throughput_rps"` // requests per second
	P50ms      float64 `json:"latency_p50_ms"`
	P90ms      float64 `json:"latency_p90_ms"`
	P99ms      float64 `json:"latency_p99_ms"`
	MaxMs      float64 `json:"latency_max_ms"`
	MeanMs     float64 `json:"latency_mean_ms"`
}

// Bench sends l.Requests requests from l.Clients goroutines at once (each
// takes the next request as soon as its last one is answered) and measures
// throughput and latency. The error is the first failure, if any request
// failed or got a class other than l.Want's; the result is complete even
// then.
func Bench(ctx context.Context, c *Client, l Load) (BenchResult, error) {
	switch {
	case l.Clients < 1:
		return BenchResult{}, fmt.Errorf("fog: bench: %d clients: want at least 1", l.Clients)
	case l.Requests < l.Clients:
		return BenchResult{}, fmt.Errorf("fog: bench: %d requests for %d clients: want at least one each", l.Requests, l.Clients)
	case len(l.Payloads) == 0:
		return BenchResult{}, errors.New("fog: bench: no payloads")
	case l.Want != nil && len(l.Want) != len(l.Payloads):
		return BenchResult{}, fmt.Errorf("fog: bench: %d wanted classes for %d payloads", len(l.Want), len(l.Payloads))
	}
	var (
		next     atomic.Int64
		failures atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
		lat      = make([][]float64, l.Clients)
	)
	fail := func(err error) {
		failures.Add(1)
		errOnce.Do(func() { firstErr = err })
	}
	start := time.Now()
	for w := range l.Clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= l.Requests || ctx.Err() != nil {
					return
				}
				k := i % len(l.Payloads)
				t0 := time.Now()
				r, err := c.Infer(ctx, l.Model, l.Split, l.Dtype, l.Payloads[k])
				lat[w] = append(lat[w], float64(time.Since(t0))/float64(time.Millisecond))
				switch {
				case err != nil:
					fail(fmt.Errorf("request %d: %w", i, err))
				case l.Want != nil && r.Class != l.Want[k]:
					fail(fmt.Errorf("request %d: class %d, want %d", i, r.Class, l.Want[k]))
				}
			}
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var all []float64
	for _, ls := range lat {
		all = append(all, ls...)
	}
	res := BenchResult{Clients: l.Clients, Requests: len(all), Errors: int(failures.Load()), Seconds: secs}
	if secs > 0 {
		res.Throughput = float64(len(all)) / secs
	}
	if len(all) > 0 {
		res.P50ms, res.P90ms, res.P99ms = stats.Quantile(all, 0.5), stats.Quantile(all, 0.9), stats.Quantile(all, 0.99)
		res.MaxMs = stats.Quantile(all, 1)
		var sum float64
		for _, v := range all {
			sum += v
		}
		res.MeanMs = sum / float64(len(all))
	}
	if err := ctx.Err(); err != nil && len(all) < l.Requests {
		return res, fmt.Errorf("fog: bench stopped after %d of %d requests: %w", len(all), l.Requests, err)
	}
	if firstErr != nil {
		return res, fmt.Errorf("fog: bench: %d of %d requests failed, the first: %w", res.Errors, res.Requests, firstErr)
	}
	return res, nil
}
