package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/sample"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/internal/testenv"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
	"github.com/splitnas/splitnas/quant"
)

// TestEdgeEndToEnd serves a trained float model and its int8 quantization
// with the serve command, then plays the wearable with edge at every split
// point on 60 test windows of the embedded sample: the end-to-end accuracy
// equals the offline one (computed here too), the bytes sent equal the
// partition table's.
func TestEdgeEndToEnd(t *testing.T) {
	model := trainedModel(t)
	q := filepath.Join(t.TempDir(), "m8.snqm")
	if _, err := run(t, "quantize", "--model", model, "--out", q); err != nil {
		t.Fatal(err)
	}
	tok := writeToken(t, "edge-token\n")
	url, stop := startServe(t, "--model", model, "--model", q, "--addr", "127.0.0.1:0", "--token-file", tok)

	d, err := sample.Load()
	if err != nil {
		t.Fatal(err)
	}
	sub := d.Subset(d.Indices(dataset.Test)[:60])
	fm, err := nn.LoadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	qm, err := quant.LoadFile(q)
	if err != nil {
		t.Fatal(err)
	}
	fMet, err := nn.Evaluate(fm, sub)
	if err != nil {
		t.Fatal(err)
	}
	qMet, err := quant.Evaluate(qm, sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file, name, profile string
		offline             float64
	}{
		{model, "m", "stm32l476", fMet.Accuracy},
		{q, "m8", "stm32l476-int8", qMet.Accuracy},
	} {
		prof, err := hw.Load(c.profile)
		if err != nil {
			t.Fatal(err)
		}
		tab, err := partition.Evaluate(fm.Network(), prof, partition.Edge, partition.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		best, _ := tab.BestPoint()
		for _, split := range []string{"", "0", "1", "2", "3", "4"} {
			args := []string{"edge", "--model", c.file, "--fog", url, "--token-file", tok, "--windows", "60", "--json"}
			P := best.P
			if split != "" {
				args = append(args, "--split", split)
				P, _ = strconv.Atoi(split)
			}
			out, err := run(t, args...)
			if err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
			var r edgeReport
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if r.Model != c.name || r.Split != P || r.Windows != 60 || r.Profile != c.profile {
				t.Errorf("%s split %q: report %+v", c.name, split, r)
			}
			if r.Accuracy != c.offline || r.OfflineAccuracy != c.offline || !r.AccuracyEqual {
				t.Errorf("%s split %d: end-to-end %v, offline %v (reported %v), want both %v", c.name, P, r.Accuracy, r.OfflineAccuracy, r.AccuracyEqual, c.offline)
			}
			if want := tab.Points[P].SendBytes; r.BytesPerInference != want || r.TableBytes != want || !r.BytesEqual {
				t.Errorf("%s split %d: %d bytes sent, table %d, want %d", c.name, P, r.BytesPerInference, r.TableBytes, want)
			}
			if !(r.RTTp50ms > 0 && r.RTTp50ms <= r.RTTp90ms && r.RTTp90ms <= r.RTTp99ms) {
				t.Errorf("%s split %d: latencies %v %v %v", c.name, P, r.RTTp50ms, r.RTTp90ms, r.RTTp99ms)
			}
		}
	}
	// The text form names both accuracies.
	out, err := run(t, "edge", "--model", q, "--fog", url, "--token-file", tok, "--windows", "20")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"accuracy:  end-to-end", "offline", ": equal", "partition table (stm32l476-int8)", "p50", "p90", "p99"} {
		if !strings.Contains(out, want) {
			t.Errorf("edge output lacks %q:\n%s", want, out)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestEdgeDetectsMismatch: a fog serving other weights under the model's
// name fails the accuracy check (exit status 1); wrong settings are
// refused naming the flag.
func TestEdgeDetectsMismatch(t *testing.T) {
	model := trainedModel(t)
	other := untrainedModel(t, "2048x1-128x2-8x4-64x2-5") // same architecture, random weights
	tok := writeToken(t, "edge-token\n")
	url, _ := startServe(t, "--model", "m="+other, "--model", "tiny="+untrainedModel(t, "256x1-64x4-128x2-5"), "--addr", "127.0.0.1:0", "--token-file", tok)
	_, err := run(t, "edge", "--model", model, "--fog", url, "--token-file", tok, "--windows", "100", "--split", "2")
	if err == nil || !strings.Contains(err.Error(), "differs from the offline") {
		t.Errorf("edge against other weights: %v, want the accuracy mismatch", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", model, "--fog", url, "--token-file", tok, "--name", "none"}, "serves no model none"},
		{[]string{"--model", model, "--fog", url, "--token-file", tok, "--name", "tiny"}, "not the same model"},
		{[]string{"--model", model, "--fog", url}, "HTTP 401"},
		{[]string{"--model", model, "--fog", url, "--token-file", writeToken(t, "wrong")}, "unauthorized"},
		{[]string{"--model", model, "--token-file", tok}, "--fog is required"},
		{[]string{"--model", model, "--fog", url, "--token-file", tok, "--split", "5"}, "--split 5"},
		{[]string{"--model", model, "--fog", url, "--token-file", tok, "--windows", "-1"}, "--windows -1"},
	} {
		if _, err := run(t, append([]string{"edge"}, c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("edge %v: %v, want %q", c.args, err, c.want)
		}
	}
}

// TestEdgeTLS: serve with --tls-cert/--tls-key, edge trusting the
// certificate with --tls-ca; without it the handshake fails.
func TestEdgeTLS(t *testing.T) {
	model := untrainedModel(t, "256x1-64x4-128x2-5")
	dir := t.TempDir()
	cert, key, _ := testenv.SelfSigned(t, dir)
	tok := writeToken(t, "tls-token")
	url, _ := startServe(t, "--model", model, "--addr", "127.0.0.1:0", "--token-file", tok, "--tls-cert", cert, "--tls-key", key)
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("serve with TLS printed %s", url)
	}
	// The embedded sample's windows are 2048 long; this model takes 256: use
	// a dataset of its own.
	data := filepath.Join(dir, "d.snds")
	writeNoiseDataset(t, data, 256, 30)
	out, err := run(t, "edge", "--model", model, "--fog", url, "--token-file", tok, "--tls-ca", cert, "--data", data, "--split", "2")
	if err != nil || !strings.Contains(out, ": equal") {
		t.Fatalf("edge over TLS: %v\n%s", err, out)
	}
	if _, err := run(t, "edge", "--model", model, "--fog", url, "--token-file", tok, "--data", data); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("edge without --tls-ca: %v, want a certificate error", err)
	}
}

// writeNoiseDataset writes n windows of noise of the given length, five
// classes round-robin, all in the test split.
func writeNoiseDataset(t *testing.T, path string, length, n int) {
	t.Helper()
	d := dataset.New([]string{"0", "1", "2", "3", "4"}, 1, length)
	x := make([]float32, length)
	for i := range n {
		for j := range x {
			x[j] = float32(math.Sin(float64(i*length+j) * 0.37))
		}
		if err := d.Add(x, i%5, "r"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range d.Splits {
		d.Splits[i] = dataset.Test
	}
	if err := dataset.Save(path, d, dataset.F32); err != nil {
		t.Fatal(err)
	}
}
