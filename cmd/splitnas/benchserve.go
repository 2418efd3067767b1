package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	randv2 "math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/export"
	"github.com/splitnas/splitnas/fog"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/nn"
)

// Bounds of bench serve.
const (
	maxBenchClients  = 256
	maxBenchRequests = 1_000_000
	benchWindows     = 64 // distinct input windows, sent in turn
)

// benchServeReport is what bench serve prints.
type benchServeReport struct {
	Model      string `json:"model"`
	Arch       string `json:"arch"`
	Precision  string `json:"precision"`
	Dtype      string `json:"dtype"`
	Split      int    `json:"split"`
	Bytes      int    `json:"bytes_per_request"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	fog.BenchResult
	// DirectThroughput is the reference: the same requests run through
	// Model.Finish by as many goroutines in this process, without HTTP —
	// the fog's compute alone (requests per second).
	DirectThroughput float64 `json:"direct_throughput_rps"`
}

func newBenchServeCmd() *cobra.Command {
	var (
		model, archS, profile string
		split                 int
		clients, requests     int
	)
	cmd := &cobra.Command{
		Use:   "serve [--model M | --arch A] [--split P] [--clients 8] [--requests 2000]",
		Short: "Throughput and latency of the fog service, in process on loopback",
		Long: fmt.Sprintf(`Starts the fog service (serve) in this process on 127.0.0.1 (a free port, a random token) and sends
--requests inference requests from --clients concurrent clients, each sending its next request as soon
as its last is answered; every answer's class is checked against the model's. Prints one JSON object:
throughput (requests per second), latency percentiles in ms (p50, p90, p99, max, mean) of whole
requests as the clients see them, and the settings.

The model is --model (a .snnm or .snqm file) or, without it, --arch with random weights (float32); the
tensors are those of %d random windows at --split (default: the profile's best split point, as export
chooses it). --clients is at most %d, --requests at most %d and at least --clients.`, benchWindows, maxBenchClients, maxBenchRequests),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if clients < 1 || clients > maxBenchClients {
				return fmt.Errorf("--clients %d: want 1..%d", clients, maxBenchClients)
			}
			if requests < clients || requests > maxBenchRequests {
				return fmt.Errorf("--requests %d: want %d (--clients, one each) to %d", requests, clients, maxBenchRequests)
			}
			if model != "" && cmd.Flags().Changed("arch") {
				return errors.New("--model and --arch: give one")
			}
			var n export.Network
			name := "bench"
			if model != "" {
				var err error
				if n, err = loadAnyModel(model); err != nil {
					return fmt.Errorf("--model: %w", err)
				}
				name, _ = fogModelName(model)
			} else {
				net, err := arch.Parse(archS, arch.DefaultKernelRule())
				if err != nil {
					return fmt.Errorf("--arch: %w", err)
				}
				if n.Float, err = nn.NewModel(net, 1); err != nil {
					return fmt.Errorf("--arch: %w", err)
				}
			}
			m, err := fog.NewModel(name, n.Float, n.Int)
			if err != nil {
				return fmt.Errorf("--model: %w", err)
			}
			_, _, P, err := splitPoint(n, profile, cmd.Flags().Changed("profile"), split, cmd.Flags().Changed("split"))
			if err != nil {
				return err
			}
			load := fog.Load{Model: name, Split: P, Dtype: m.Dtype(), Clients: clients, Requests: requests}
			rng := randv2.New(randv2.NewPCG(1, 2))
			x := make([]float32, m.Values(0))
			for range benchWindows {
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				p, err := m.Edge(x, P)
				if err != nil {
					return err
				}
				r, err := m.Finish(P, p)
				if err != nil {
					return err
				}
				load.Payloads, load.Want = append(load.Payloads, p), append(load.Want, r.Class)
			}
			res, err := benchServe(cmd.Context(), m, load)
			if err != nil {
				return err
			}
			direct, err := benchDirect(m, load)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), benchServeReport{
				Model: name, Arch: m.Network().String(), Precision: m.Precision().Name, Dtype: m.Dtype(),
				Split: P, Bytes: m.Bytes(P), GOMAXPROCS: runtime.GOMAXPROCS(0), BenchResult: res,
				DirectThroughput: direct,
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "model file, float (.snnm) or integer (.snqm) (default: --arch with random weights)")
	f.StringVar(&archS, "arch", "2048x1-128x2-8x4-64x2-5", "architecture of the random float model used without --model")
	f.IntVar(&split, "split", 0, "split point of the requests (default: the profile's best)")
	f.StringVar(&profile, "profile", hw.DefaultProfile, "device profile for the default --split (default stm32l476, or stm32l476-int8 / stm32l476-int4 for an int8 / int4 model)")
	f.IntVar(&clients, "clients", 8, fmt.Sprintf("concurrent clients, 1..%d", maxBenchClients))
	f.IntVar(&requests, "requests", 2000, fmt.Sprintf("requests in all, --clients..%d", maxBenchRequests))
	return cmd
}

// benchServe serves m on a loopback port with a random token, runs load
// against it and shuts the server down.
func benchServe(ctx context.Context, m *fog.Model, load fog.Load) (fog.BenchResult, error) {
	tok := make([]byte, 16)
	rand.Read(tok)
	token := hex.EncodeToString(tok)
	srv, err := fog.NewServer([]*fog.Model{m}, fog.Options{Token: []byte(token)})
	if err != nil {
		return fog.BenchResult{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fog.BenchResult{}, fmt.Errorf("bench serve: listening on loopback: %w", err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	to := fog.DefaultTimeouts()
	go func() { done <- fog.Run(sctx, fog.NewHTTPServer(srv, to, nil, nil), ln, to.Shutdown) }()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = load.Clients
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	c := &fog.Client{BaseURL: "http://" + ln.Addr().String(), Token: token, HTTP: hc}
	res, berr := fog.Bench(ctx, c, load)
	tr.CloseIdleConnections()
	stop()
	if err := <-done; err != nil && berr == nil {
		berr = err
	}
	return res, berr
}

// benchDirect runs load's requests through m.Finish from load.Clients
// goroutines, without a server, and returns the requests per second: the
// reference bench serve's HTTP throughput is compared with.
func benchDirect(m *fog.Model, load fog.Load) (float64, error) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make([]error, load.Clients)
	)
	start := time.Now()
	for w := range load.Clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= load.Requests {
					return
				}
				k := i % len(load.Payloads)
				r, err := m.Finish(load.Split, load.Payloads[k])
				if err == nil && r.Class != load.Want[k] {
					err = fmt.Errorf("class %d, want %d", r.Class, load.Want[k])
				}
				if err != nil && errs[w] == nil {
					errs[w] = fmt.Errorf("bench serve: direct request %d: %w", i, err)
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return float64(load.Requests) / time.Since(start).Seconds(), nil
}
