package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/export"
	"github.com/splitnas/splitnas/fog"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/internal/stats"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
	"github.com/splitnas/splitnas/quant"
)

func newEdgeCmd() *cobra.Command {
	var (
		model, name, profile, data, fogURL, tokenFile string
		caFile                                        string
		split, windows                                int
		asJSON                                        bool
	)
	cmd := &cobra.Command{
		Use:   "edge --model M --fog URL --token-file F [--split P] [--data D] [--windows N]",
		Short: "Play the wearable: run layers 1..P, send each window's tensor to a fog service, score the answers",
		Long: `Runs layers 1..P of a model in Go, with the arithmetic of the exported C (an integer model quantizes
the window, then runs in int8; a float model in float32), on the test windows of --data, sends each
tensor P to the fog service at --fog (splitnas serve, serving the same model file) and scores its
answers. It reports the end-to-end accuracy next to the offline test accuracy of the same windows
(nn / quant Evaluate), which it must equal exactly (exit status 1 otherwise); the bytes sent per
inference next to the partition table's at P, which they must equal; and the round-trip latency
percentiles (p50, p90, p99) of the requests, sent one at a time as a wearable would.

--name is the model's name on the server (default: --model's base name without its extension, as
serve names it). --profile defaults to stm32l476 for a float model, stm32l476-int8 / stm32l476-int4 for
an integer one; --split to the split point that profile's edge scenario chooses (as export does).
--token-file may be left out only for a server started with --insecure. --tls-ca trusts a certificate
(e.g. serve's self-signed --tls-cert) for an https --fog.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if model == "" {
				return errors.New("--model is required")
			}
			if fogURL == "" {
				return errors.New("--fog is required: the fog service's URL, e.g. http://127.0.0.1:8080")
			}
			if windows < 0 {
				return fmt.Errorf("--windows %d: want 0 (all) or more", windows)
			}
			token := ""
			if tokenFile != "" {
				t, err := readTokenFile(tokenFile)
				if err != nil {
					return err
				}
				token = t
			}
			n, err := loadAnyModel(model)
			if err != nil {
				return fmt.Errorf("--model: %w", err)
			}
			if !cmd.Flags().Changed("name") {
				name, _ = fogModelName(model)
			}
			m, err := fog.NewModel(name, n.Float, n.Int)
			if err != nil {
				return fmt.Errorf("--name: %w", err)
			}
			prof, tab, P, err := splitPoint(n, profile, cmd.Flags().Changed("profile"), split, cmd.Flags().Changed("split"))
			if err != nil {
				return err
			}
			d, err := loadDataset(data)
			if err != nil {
				return err
			}
			net := n.Network()
			if in := net.Input(); d.Length != in.Len || d.Channels != in.Ch {
				return fmt.Errorf("--data %s has windows of %dx%d, the model takes %v", dataName(data), d.Length, d.Channels, in)
			}
			idx := d.Indices(dataset.Test)
			part := "test"
			if len(idx) == 0 {
				idx, part = d.Indices(dataset.Train), "training"
			}
			if windows > 0 {
				idx = idx[:min(windows, len(idx))]
			}
			if len(idx) == 0 {
				return fmt.Errorf("--data %s has no windows", dataName(data))
			}
			sub := d.Subset(idx)
			offline, err := evaluateAny(n, sub)
			if err != nil {
				return err
			}

			c := &fog.Client{BaseURL: fogURL, Token: token}
			if caFile != "" {
				if c.HTTP, err = clientTrusting(caFile); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			if err := checkServed(ctx, c, m, P); err != nil {
				return err
			}
			k := net.Classes()
			rep := edgeReport{
				Model: m.Name(), Arch: net.String(), Precision: m.Precision().Name, Dtype: m.Dtype(),
				Split: P, Layers: m.Layers(), Tensor: net.Tensor(P).String(), Fog: fogURL,
				Data: dataName(data), Part: part, Windows: sub.Len(), Profile: prof.Name,
				TableBytes: tab.Points[P].SendBytes, OfflineAccuracy: offline.Accuracy,
			}
			confusion := make([][]int, k)
			for i := range confusion {
				confusion[i] = make([]int, k)
			}
			var rtt, edgeMs []float64
			for i := range sub.Len() {
				t0 := time.Now()
				payload, err := m.Edge(sub.Sample(i), P)
				if err != nil {
					return err
				}
				t1 := time.Now()
				r, err := c.Infer(ctx, m.Name(), P, m.Dtype(), payload)
				if err != nil {
					return fmt.Errorf("--fog %s: window %d: %w", fogURL, i, err)
				}
				rtt = append(rtt, ms(time.Since(t1)))
				edgeMs = append(edgeMs, ms(t1.Sub(t0)))
				if r.Class < 0 || r.Class >= k {
					return fmt.Errorf("--fog %s: window %d: class %d of a %d-class model", fogURL, i, r.Class, k)
				}
				confusion[sub.Labels[i]][r.Class]++
				if i == 0 {
					rep.BytesPerInference = len(payload)
				} else if len(payload) != rep.BytesPerInference {
					return fmt.Errorf("window %d: %d bytes sent, window 0 sent %d", i, len(payload), rep.BytesPerInference)
				}
			}
			e2e := nn.ConfusionMetrics(confusion, sub.Classes)
			rep.Accuracy = e2e.Accuracy
			for c := range confusion {
				rep.Correct += confusion[c][c]
			}
			rep.AccuracyEqual = e2e.Accuracy == offline.Accuracy && slices.EqualFunc(confusion, offline.Confusion, slices.Equal)
			rep.BytesEqual = rep.BytesPerInference == rep.TableBytes
			rep.RTTp50ms, rep.RTTp90ms, rep.RTTp99ms = stats.Quantile(rtt, 0.5), stats.Quantile(rtt, 0.9), stats.Quantile(rtt, 0.99)
			rep.EdgeComputeP50ms = stats.Quantile(edgeMs, 0.5)
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else {
				printEdge(cmd.OutOrStdout(), rep)
			}
			if !rep.AccuracyEqual {
				return fmt.Errorf("end-to-end accuracy %.4f (or its confusion matrix) differs from the offline %.4f on the same %d windows", rep.Accuracy, rep.OfflineAccuracy, rep.Windows)
			}
			if !rep.BytesEqual {
				return fmt.Errorf("%d bytes sent per inference, the partition table says %d at split %d", rep.BytesPerInference, rep.TableBytes, P)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "model file, float (.snnm) or integer (.snqm): the same file the fog serves")
	f.StringVar(&name, "name", "", "the model's name on the fog service (default: --model's base name without extension)")
	f.IntVar(&split, "split", 0, "run layers 1..P on the edge (default: the profile's best split point, edge scenario)")
	f.StringVar(&profile, "profile", hw.DefaultProfile, "device profile for the default --split and the partition table (default stm32l476, or stm32l476-int8 / stm32l476-int4 for an int8 / int4 model)")
	f.StringVar(&data, "data", "", "dataset whose test windows are sent (default: the embedded MIT-BIH sample)")
	f.StringVar(&fogURL, "fog", "", "the fog service's URL, e.g. http://127.0.0.1:8080")
	f.StringVar(&tokenFile, "token-file", "", "file holding the bearer token (leave out only for an --insecure server)")
	f.StringVar(&caFile, "tls-ca", "", "PEM certificate(s) to trust for an https --fog (e.g. serve's self-signed --tls-cert); default: the system's")
	f.IntVar(&windows, "windows", 0, "send the first N test windows (0: all)")
	f.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	return cmd
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// splitPoint resolves --profile and --split as export does: the profile
// defaults to the model's precision's, the split to the profile's best
// point in the edge scenario.
func splitPoint(n export.Network, profile string, profileSet bool, split int, splitSet bool) (hw.Profile, partition.Table, int, error) {
	if !profileSet && n.Int != nil {
		profile = "stm32l476-int8"
		if n.Int.Bits == 4 {
			profile = "stm32l476-int4"
		}
	}
	prof, err := hw.Load(profile)
	if err != nil {
		return hw.Profile{}, partition.Table{}, 0, fmt.Errorf("--profile: %w", err)
	}
	net := n.Network()
	var rows [][]int // a pruned model's layers may run sparse, as export writes them
	if !n.Dense {
		rows = n.Rows()
	}
	tab, err := partition.EvaluateSparse(net, prof, partition.Edge, partition.Limits{}, rows)
	if err != nil {
		return hw.Profile{}, partition.Table{}, 0, fmt.Errorf("--profile %s: %w", prof.Name, err)
	}
	if !splitSet {
		best, ok := tab.BestPoint()
		if !ok {
			return hw.Profile{}, partition.Table{}, 0, fmt.Errorf("no split point of %s fits %s's Flash and RAM: give --split", net, prof.Name)
		}
		split = best.P
	}
	if split < 0 || split > len(net.Layers) {
		return hw.Profile{}, partition.Table{}, 0, fmt.Errorf("--split %d: %s has layers 1..%d (0..%d)", split, net, len(net.Layers), len(net.Layers))
	}
	return prof, tab, split, nil
}

// evaluateAny scores a float or an integer model offline.
func evaluateAny(n export.Network, d *dataset.Dataset) (nn.Metrics, error) {
	if n.Int != nil {
		return quant.Evaluate(n.Int, d)
	}
	return nn.Evaluate(n.Float, d)
}

// checkServed makes sure the fog serves m under its name, with the same
// architecture and wire size at P.
func checkServed(ctx context.Context, c *fog.Client, m *fog.Model, P int) error {
	infos, err := c.Models(ctx)
	if err != nil {
		return fmt.Errorf("--fog %s: %w", c.BaseURL, err)
	}
	var names []string
	for _, in := range infos {
		names = append(names, in.Name)
		if in.Name != m.Name() {
			continue
		}
		if in.Arch != m.Network().String() || in.Dtype != m.Dtype() || len(in.Splits) != m.Layers()+1 || in.Splits[P].Bytes != m.Bytes(P) {
			return fmt.Errorf("--fog %s serves %s as %s (%s), --model is %s (%s): not the same model", c.BaseURL, m.Name(), in.Arch, in.Precision, m.Network(), m.Precision().Name)
		}
		return nil
	}
	return fmt.Errorf("--fog %s serves no model %s (it serves %v): start serve with --model %s=PATH or give --name", c.BaseURL, m.Name(), names, m.Name())
}

// edgeReport is what edge prints, and its --json form.
type edgeReport struct {
	Model             string  `json:"model"`
	Arch              string  `json:"arch"`
	Precision         string  `json:"precision"`
	Dtype             string  `json:"dtype"`
	Split             int     `json:"split"`
	Layers            int     `json:"layers"`
	Tensor            string  `json:"tensor"` // shape of tensor P, length×channels
	Fog               string  `json:"fog"`
	Data              string  `json:"data"`
	Part              string  `json:"part"` // the split of the data the windows come from
	Windows           int     `json:"windows"`
	Correct           int     `json:"correct"`
	Accuracy          float64 `json:"accuracy"`         // end to end, through the fog
	OfflineAccuracy   float64 `json:"offline_accuracy"` // nn / quant Evaluate on the same windows
	AccuracyEqual     bool    `json:"accuracy_equal"`   // and the confusion matrices are equal
	BytesPerInference int     `json:"bytes_per_inference"`
	Profile           string  `json:"profile"`
	TableBytes        int     `json:"table_bytes"` // partition's SendBytes at P on Profile
	BytesEqual        bool    `json:"bytes_equal"`
	RTTp50ms          float64 `json:"rtt_p50_ms"`
	RTTp90ms          float64 `json:"rtt_p90_ms"`
	RTTp99ms          float64 `json:"rtt_p99_ms"`
	EdgeComputeP50ms  float64 `json:"edge_compute_p50_ms"` // layers 1..P in Go on this machine, not the MCU
}

func printEdge(w io.Writer, r edgeReport) {
	eq := func(b bool) string {
		if b {
			return "equal"
		}
		return "DIFFERENT"
	}
	fmt.Fprintf(w, "model:     %s: %s (%s), split %d of %d, sends tensor %s as %s\n", r.Model, r.Arch, r.Precision, r.Split, r.Layers, r.Tensor, r.Dtype)
	fmt.Fprintf(w, "windows:   %d %s windows of %s, through %s\n", r.Windows, r.Part, r.Data, r.Fog)
	fmt.Fprintf(w, "accuracy:  end-to-end %.4f (%d/%d), offline %.4f: %s\n", r.Accuracy, r.Correct, r.Windows, r.OfflineAccuracy, eq(r.AccuracyEqual))
	fmt.Fprintf(w, "bytes:     %d B sent per inference, partition table (%s) at split %d: %d B: %s\n", r.BytesPerInference, r.Profile, r.Split, r.TableBytes, eq(r.BytesEqual))
	fmt.Fprintf(w, "latency:   round trip p50 %.3f ms, p90 %.3f ms, p99 %.3f ms (edge layers in Go: p50 %.3f ms)\n", r.RTTp50ms, r.RTTp90ms, r.RTTp99ms, r.EdgeComputeP50ms)
}

// clientTrusting is an HTTP client that trusts the PEM certificates in
// caFile (and no others).
func clientTrusting(caFile string) (*http.Client, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}
