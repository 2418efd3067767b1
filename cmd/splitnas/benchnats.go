package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/remote"
	"github.com/splitnas/splitnas/search"
)

// benchNATSReport is what bench nats prints.
type benchNATSReport struct {
	Data        string `json:"data"`
	Workers     int    `json:"workers"`
	Trainings   int    `json:"trainings"`
	Population  int    `json:"population"`
	Generations int    `json:"generations"`
	Epochs      int    `json:"epochs"`
	// The reference: the same search in this process with Workers
	// goroutines.
	LocalSeconds        float64 `json:"local_seconds"`
	LocalTrainingsPerS  float64 `json:"local_trainings_per_s"`
	RemoteSeconds       float64 `json:"remote_seconds"`
	RemoteTrainingsPerS float64 `json:"remote_trainings_per_s"`
	Ratio               float64 `json:"remote_over_local"` // RemoteTrainingsPerS / LocalTrainingsPerS
	SameResult          bool    `json:"same_result"`
	// Sizes, from the coordinator's engine and the server's counters.
	JobBytesPerTraining    float64 `json:"job_bytes_per_training"`
	ResultBytesPerTraining float64 `json:"result_bytes_per_training"`
	UploadBytes            int64   `json:"upload_bytes"` // the datasets, sent once
	MessagesPerTraining    float64 `json:"messages_per_training"`
	ServerBytesPerTraining float64 `json:"server_bytes_per_training"` // in + out, data upload and download excluded
	// A second identical remote search, which must train nothing.
	RepeatSeconds   float64 `json:"repeat_seconds"`
	RepeatPublished int     `json:"repeat_published"`
	Remote          string  `json:"remote"` // the engine's summary
}

func newBenchNATSCmd() *cobra.Command {
	var (
		data                    string
		workers                 int
		pop, gens, epochs, seed int
	)
	cmd := &cobra.Command{
		Use:   "nats [--data F] [--workers 2] [--population 8 --generations 2 --epochs 5]",
		Short: "Throughput of a search on worker processes over NATS against local workers",
		Long: `Runs one search twice: in this process with --workers goroutines (the reference), then as a
coordinator on an embedded NATS JetStream server (a temporary directory, a random token) with
--workers worker processes of this program (splitnas worker --concurrency 1), started when the
coordinator starts, so their start-up and data download count. Checks that both give the same
result, then runs the remote search once more, which must train nothing (every result from the
results bucket). Prints one JSON object: trainings per second both ways and their ratio; job,
result and upload sizes; messages through the server per training (its in + out counters, the
data upload and download included in neither count).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if workers < 1 || workers > 64 {
				return fmt.Errorf("--workers %d: want 1..64", workers)
			}
			d, err := loadDataset(data)
			if err != nil {
				return err
			}
			prof, err := hw.Load(hw.DefaultProfile)
			if err != nil {
				return err
			}
			cfg := search.DefaultConfig(len(d.Classes))
			cfg.Profile, cfg.Population, cfg.Generations, cfg.Train.Epochs, cfg.Seed = prof, pop, gens, epochs, uint64(seed)
			cfg.Space.InputLength, cfg.Space.InputChannels = d.Length, d.Channels
			if err := cfg.Validate(d); err != nil {
				return searchError(err)
			}
			ctx := cmd.Context()
			rep := benchNATSReport{Data: dataName(data), Workers: workers, Population: pop, Generations: gens, Epochs: epochs}

			local := cfg
			local.Workers = workers
			t0 := time.Now()
			want, err := search.Run(ctx, local, d)
			if err != nil {
				return err
			}
			rep.LocalSeconds = time.Since(t0).Seconds()

			tmp, err := os.MkdirTemp("", "splitnas-bench-nats-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			token := make([]byte, 16)
			rand.Read(token)
			nf := natsFlags{tokenFile: filepath.Join(tmp, "token")}
			if err := os.WriteFile(nf.tokenFile, []byte(hex.EncodeToString(token)), 0o600); err != nil {
				return err
			}
			s, err := remote.StartServer(remote.ServerConfig{Dir: filepath.Join(tmp, "js"), Port: -1, Token: hex.EncodeToString(token)})
			if err != nil {
				return err
			}
			defer s.Shutdown()
			nf.url = s.ClientURL()
			v0, err := s.Varz(nil)
			if err != nil {
				return err
			}
			t0 = time.Now()
			stop, err := startWorkers(nf, workers)
			if err != nil {
				return err
			}
			defer stop()
			got, e, err := remoteRun(ctx, nf, cfg, d)
			if err != nil {
				return err
			}
			rep.RemoteSeconds = time.Since(t0).Seconds()
			v1, err := s.Varz(nil)
			if err != nil {
				return err
			}
			st := e.Stats()
			rep.Trainings = st.Completed
			if rep.Trainings == 0 {
				return errors.New("the remote search trained nothing")
			}
			n := float64(rep.Trainings)
			rep.LocalTrainingsPerS = n / rep.LocalSeconds
			rep.RemoteTrainingsPerS = n / rep.RemoteSeconds
			rep.Ratio = rep.RemoteTrainingsPerS / rep.LocalTrainingsPerS
			rep.SameResult = sameSearch(want, got)
			rep.JobBytesPerTraining = float64(st.JobBytes) / n
			rep.ResultBytesPerTraining = float64(st.ResultBytes) / n
			rep.UploadBytes = st.UploadBytes
			rep.MessagesPerTraining = float64(v1.InMsgs+v1.OutMsgs-v0.InMsgs-v0.OutMsgs) / n
			// The data crosses the server twice per worker plus once up;
			// leave it out of the per-training figure.
			dataBytes := st.UploadBytes * int64(1+workers)
			rep.ServerBytesPerTraining = float64(v1.InBytes+v1.OutBytes-v0.InBytes-v0.OutBytes-dataBytes) / n
			rep.Remote = st.String()

			t0 = time.Now()
			again, e2, err := remoteRun(ctx, nf, cfg, d)
			if err != nil {
				return err
			}
			rep.RepeatSeconds = time.Since(t0).Seconds()
			rep.RepeatPublished = e2.Stats().Published
			rep.SameResult = rep.SameResult && sameSearch(want, again)
			if err := writeJSON(cmd.OutOrStdout(), rep); err != nil {
				return err
			}
			if !rep.SameResult {
				return errors.New("the remote search's result differs from the local one")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "", "dataset file (default: the embedded MIT-BIH sample)")
	f.IntVar(&workers, "workers", 2, "local goroutines, and worker processes")
	f.IntVar(&pop, "population", 8, "candidates per generation")
	f.IntVar(&gens, "generations", 2, "generations")
	f.IntVar(&epochs, "epochs", 5, "training epochs per candidate")
	f.IntVar(&seed, "seed", 1, "search seed")
	return cmd
}

// startWorkers starts n worker processes of this program; stop ends them.
func startWorkers(nf natsFlags, n int) (stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			c.Process.Signal(syscall.SIGTERM)
		}
		for _, c := range cmds {
			c.Wait()
		}
	}
	for i := range n {
		c := exec.Command(exe, "worker", "--nats", nf.url, "--token-file", nf.tokenFile, "--concurrency", "1", "--name", "w"+strconv.Itoa(i+1))
		c.Env = os.Environ() // tests run this program as their own binary (SPLITNAS_TEST_MAIN)
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			stop()
			return nil, err
		}
		cmds = append(cmds, c)
	}
	return stop, nil
}

// remoteRun runs cfg as a coordinator with a fresh engine.
func remoteRun(ctx context.Context, nf natsFlags, cfg search.Config, d *dataset.Dataset) (*search.Result, *remote.Engine, error) {
	e, stop, err := nf.remoteEngine(ctx, time.Hour)
	if err != nil {
		return nil, nil, err
	}
	defer stop()
	cfg.Engine, cfg.Workers = e, cfg.Population
	r, err := search.Run(ctx, cfg, d)
	return r, e, err
}

// sameSearch reports whether two searches chose the same model from the
// same candidates with the same scores (wall times aside).
func sameSearch(a, b *search.Result) bool {
	if len(a.Candidates) != len(b.Candidates) || a.Best.Arch != b.Best.Arch || a.Best.TestAccuracy != b.Best.TestAccuracy {
		return false
	}
	for i := range a.Candidates {
		x, y := a.Candidates[i], b.Candidates[i]
		x.TrainSeconds, y.TrainSeconds = 0, 0
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}
