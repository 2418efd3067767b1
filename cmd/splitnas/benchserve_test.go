package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchServe runs a small bench: valid JSON with every field, the
// requests all answered, the percentiles ordered; the bounds are refused
// naming the flag.
func TestBenchServe(t *testing.T) {
	out, err := run(t, "bench", "serve", "--arch", "256x1-64x4-128x2-5", "--split", "1", "--clients", "4", "--requests", "200")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"model", "arch", "precision", "dtype", "split", "bytes_per_request", "gomaxprocs", "clients", "requests",
		"errors", "seconds", "throughput_rps", "latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_max_ms", "latency_mean_ms",
		"direct_throughput_rps"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no field %q in\n%s", k, out)
		}
	}
	var r benchServeReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Requests != 200 || r.Clients != 4 || r.Errors != 0 || r.Split != 1 || r.Bytes != 1024 || r.Throughput <= 0 || r.DirectThroughput <= 0 ||
		!(r.P50ms > 0 && r.P50ms <= r.P99ms) {
		t.Errorf("report %+v", r)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--clients", "0"}, "--clients 0: want 1..256"},
		{[]string{"--clients", "257"}, "--clients 257: want 1..256"},
		{[]string{"--clients", "8", "--requests", "4"}, "--requests 4: want 8"},
		{[]string{"--requests", "1000001"}, "--requests 1000001"},
		{[]string{"--arch", "100x1-7x2-5"}, "--arch"},
		{[]string{"--model", "x.snnm", "--arch", "256x1-5"}, "give one"},
	} {
		if _, err := run(t, append([]string{"bench", "serve"}, c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("bench serve %v: %v, want %q", c.args, err, c.want)
		}
	}
}
