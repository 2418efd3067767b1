package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/nn"
)

// Worker takes jobs from the job stream and trains them with the native
// engine. Set its fields before Run; the zero value is usable.
type Worker struct {
	Name        string        // in results and logs; "": host name and process id
	Concurrency int           // trainings at once; 0: GOMAXPROCS
	AckWait     time.Duration // the consumer's; 0: DefaultAckWait
	Logger      *slog.Logger  // nil: slog.Default()
	// OnJob, if set, is called as a training starts (job key and
	// architecture) and when it ends (err nil when its result is stored);
	// for progress displays and tests.
	OnJob func(key, arch string, done bool, err error)

	b     *bus
	log   *slog.Logger
	mu    sync.Mutex
	cache []cached // datasets and targets fetched, most recent last
}

// cachedObjects bounds the objects a worker keeps in memory: a search
// uses two datasets (training, validation half A) and maybe one teacher.
const cachedObjects = 4

type cached struct {
	name string
	v    any // *dataset.Dataset or *nn.SoftTargets
}

// Run takes and trains jobs until ctx ends; then it hands the jobs it is
// training back (negative acknowledgement, so they are delivered again at
// once) and returns nil. It returns an error only if it cannot set up the
// stream and consumer. Losing the server is not an error: it waits for
// the connection to come back.
func (w *Worker) Run(ctx context.Context, nc *nats.Conn) error {
	if w.Name == "" {
		host, _ := os.Hostname()
		w.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if w.Concurrency <= 0 {
		w.Concurrency = runtime.GOMAXPROCS(0)
	}
	if w.AckWait <= 0 {
		w.AckWait = DefaultAckWait
	}
	w.log = w.Logger
	if w.log == nil {
		w.log = slog.Default()
	}
	var (
		cons jetstream.Consumer
		err  error
	)
	for {
		if w.b, err = open(ctx, nc); err == nil {
			if cons, err = w.b.consumer(ctx, w.AckWait); err == nil {
				break
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if !nc.IsReconnecting() && nc.IsConnected() {
			return err
		}
		time.Sleep(time.Second) // the server is away: wait for it
	}
	w.log.Info("remote: worker ready", "worker", w.Name, "concurrency", w.Concurrency, "ack_wait", w.AckWait)
	var wg sync.WaitGroup
	for range w.Concurrency {
		wg.Go(func() { w.loop(ctx, cons) })
	}
	wg.Wait()
	nc.FlushTimeout(2 * time.Second) // the jobs handed back reach the server before the caller closes nc
	return nil
}

// fetchWait is how long one fetch waits for a job. The fetch is not cut
// short when the worker stops (a job the server delivers to a fetch the
// client abandoned would stay in flight until the ack wait): it runs out,
// and a job it brings is handed back.
const fetchWait = 2 * time.Second

// loop fetches and handles one job at a time.
func (w *Worker) loop(ctx context.Context, cons jetstream.Consumer) {
	for ctx.Err() == nil {
		msg, err := cons.Next(jetstream.FetchMaxWait(fetchWait))
		switch {
		case err == nil && ctx.Err() != nil:
			msg.Nak()
		case err == nil:
			w.handle(ctx, msg)
		case ctx.Err() != nil:
		case errors.Is(err, nats.ErrTimeout), errors.Is(err, jetstream.ErrNoMessages):
			// No job yet.
		default:
			w.log.Debug("remote: fetching a job, will retry", "worker", w.Name, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// handle trains one job and acknowledges it once its result is stored.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	delivery := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		delivery = md.NumDelivered
	}
	var env envelope
	if err := json.Unmarshal(msg.Data(), &env); err != nil {
		w.log.Error("remote: dropping a malformed job message", "worker", w.Name, "bytes", len(msg.Data()), "err", err)
		msg.Term()
		return
	}
	if key, err := env.Job.key(); err != nil || key != env.Key || env.Job.Version != jobVersion || env.Job.Engine != nn.Native().Name() {
		w.log.Error("remote: dropping a job whose key, version or engine does not match its content",
			"worker", w.Name, "key", env.Key, "version", env.Job.Version, "engine", env.Job.Engine)
		msg.Term()
		return
	}
	key := env.Key
	log := w.log.With("worker", w.Name, "key", key[:min(12, len(key))], "delivery", delivery)
	if w.stored(ctx, key) {
		// Trained already (a job published twice, or whose ack was lost).
		log.Debug("remote: result already stored")
		w.notify(key)
		msg.DoubleAck(ctx)
		return
	}
	net, err := env.Job.network()
	if err != nil {
		w.fail(ctx, msg, key, delivery, fmt.Errorf("job: %w", err), log)
		return
	}

	// Progress notices keep the job ours while it trains.
	tctx, stop := context.WithCancel(ctx)
	var pwg sync.WaitGroup
	pwg.Go(func() {
		t := time.NewTicker(w.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-tctx.Done():
				return
			case <-t.C:
				if err := msg.InProgress(); err != nil {
					log.Debug("remote: progress notice", "err", err)
				}
			}
		}
	})
	defer func() { stop(); pwg.Wait() }()

	cfg, train, val, err := w.inputs(tctx, &env.Job)
	if err != nil {
		if ctx.Err() != nil || !errors.Is(err, errBadInput) {
			// Shutting down, or the server is away: someone else (or we,
			// later) will take it.
			log.Warn("remote: job handed back", "err", err)
			msg.NakWithDelay(time.Second)
			return
		}
		w.fail(ctx, msg, key, delivery, err, log)
		return
	}
	if w.OnJob != nil {
		w.OnJob(key, net.String(), false, nil)
	}
	log.Info("remote: training", "arch", net.String(), "epochs", cfg.Epochs)
	t0 := time.Now()
	res, err := nn.Native().Train(tctx, net, train, val, cfg)
	secs := time.Since(t0).Seconds()
	if ctx.Err() != nil {
		log.Info("remote: job handed back (worker stopping)")
		msg.Nak()
		return
	}
	r := &result{Key: key, Worker: w.Name, Delivery: delivery, Seconds: secs}
	if err != nil {
		r.Error = err.Error()
	} else {
		var buf bytes.Buffer
		if err := nn.Save(&buf, res.Model); err != nil {
			r.Error = "saving the model: " + err.Error()
		}
		r.Model, r.History, r.Best, r.Ranges = buf.Bytes(), res.History, res.Best, res.Ranges
	}
	if err := w.store(ctx, msg, r); err != nil {
		log.Warn("remote: result not stored, job handed back", "err", err)
		msg.Nak()
		return
	}
	log.Info("remote: done", "arch", net.String(), "seconds", secs, "error", r.Error)
	if w.OnJob != nil {
		w.OnJob(key, net.String(), true, nil)
	}
}

// stored reports whether the results bucket holds a well-formed result of
// key (one naming key; whether it fits the job is the coordinator's to
// check, with the validation data it chose by).
func (w *Worker) stored(ctx context.Context, key string) bool {
	e, err := w.b.results.Get(ctx, key)
	if err != nil {
		return false
	}
	r, err := decodeResult(e.Value())
	return err == nil && r.Key == key
}

// store puts r in the results bucket, retrying while the server is away
// (up to the ack wait, after which the job is someone else's), then
// notifies the coordinator and acknowledges the job.
func (w *Worker) store(ctx context.Context, msg jetstream.Msg, r *result) error {
	b, err := r.encode()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(w.AckWait)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = w.b.results.Put(pctx, r.Key, b)
		cancel()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			break
		}
		msg.InProgress()
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("storing %d bytes: %w", len(b), err)
	}
	w.notify(r.Key)
	// Acknowledged only now: had the worker died before, the job would be
	// delivered again. A lost acknowledgement costs a redelivery that
	// finds the result stored.
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		w.log.Debug("remote: acknowledgement not confirmed", "key", r.Key[:12], "err", err)
	}
	return nil
}

func (w *Worker) notify(key string) {
	w.b.nc.Publish(DoneSubject+"."+key, nil)
}

// fail stores a result reporting err (a job no worker could train: bad
// data or settings) and acknowledges the job, so that the coordinator
// stops waiting and reports it.
func (w *Worker) fail(ctx context.Context, msg jetstream.Msg, key string, delivery uint64, err error, log *slog.Logger) {
	log.Error("remote: job failed", "err", err)
	if serr := w.store(ctx, msg, &result{Key: key, Worker: w.Name, Delivery: delivery, Error: err.Error()}); serr != nil {
		log.Warn("remote: failure not stored, job handed back", "err", serr)
		msg.Nak()
	}
}

// errBadInput marks input no worker can use (unlike a server that is away).
var errBadInput = errors.New("bad job input")

// inputs fetches (or takes from the cache) the job's data and returns the
// training configuration with its teacher and initial model restored.
func (w *Worker) inputs(ctx context.Context, j *job) (nn.Config, *dataset.Dataset, *dataset.Dataset, error) {
	cfg := j.Config
	train, err := w.dataset(ctx, j.Train)
	if err != nil {
		return cfg, nil, nil, err
	}
	var val *dataset.Dataset
	if j.Val != "" {
		if val, err = w.dataset(ctx, j.Val); err != nil {
			return cfg, nil, nil, err
		}
	}
	if j.Teacher != "" {
		v, err := w.object(ctx, j.Teacher, func(b []byte) (any, error) {
			if got := targetsObject(b); got != j.Teacher {
				return nil, fmt.Errorf("content hashes to %s", got)
			}
			var s nn.SoftTargets
			if err := s.UnmarshalBinary(b); err != nil {
				return nil, err
			}
			return &s, nil
		})
		if err != nil {
			return cfg, nil, nil, err
		}
		cfg.Teacher = v.(*nn.SoftTargets)
	}
	if j.Init != nil {
		m, err := nn.Load(bytes.NewReader(j.Init), "initial model")
		if err != nil {
			return cfg, nil, nil, fmt.Errorf("%w: %v", errBadInput, err)
		}
		cfg.Init = m
	}
	return cfg, train, val, nil
}

func (w *Worker) dataset(ctx context.Context, name string) (*dataset.Dataset, error) {
	v, err := w.object(ctx, name, func(b []byte) (any, error) {
		d, err := dataset.Decode(b, name)
		if err != nil {
			return nil, err
		}
		if got := datasetObject(d); got != name {
			return nil, fmt.Errorf("content hashes to %s", got)
		}
		return d, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*dataset.Dataset), nil
}

// object returns the named object, decoded and verified by decode, from
// the cache or the data bucket. A missing or unverifiable object wraps
// errBadInput; other errors are the server's.
func (w *Worker) object(ctx context.Context, name string, decode func([]byte) (any, error)) (any, error) {
	w.mu.Lock()
	defer w.mu.Unlock() // one download at a time; the others wait for it
	for i, c := range w.cache {
		if c.name == name {
			w.cache = append(append(w.cache[:i:i], w.cache[i+1:]...), c)
			return c.v, nil
		}
	}
	if !strings.HasPrefix(name, "dataset-") && !strings.HasPrefix(name, "targets-") {
		return nil, fmt.Errorf("%w: object name %q", errBadInput, name)
	}
	b, err := w.b.data.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: object %s is not in bucket %s", errBadInput, name, DataBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", name, err)
	}
	v, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: object %s: %v", errBadInput, name, err)
	}
	w.log.Info("remote: data fetched", "worker", w.Name, "object", name[:min(len(name), 24)], "bytes", len(b))
	w.cache = append(w.cache, cached{name, v})
	if len(w.cache) > cachedObjects {
		w.cache = w.cache[1:]
	}
	return v, nil
}
