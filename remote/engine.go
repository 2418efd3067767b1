package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/internal/frame"
	"github.com/splitnas/splitnas/nn"
)

// DefaultPoll is how often a waiting coordinator re-reads the results
// bucket, in case the notice of a stored result was lost (it is core NATS,
// not persisted: e.g. sent while the coordinator was reconnecting).
const DefaultPoll = 2 * time.Second

// EngineOptions set up an Engine. The zero value is usable.
type EngineOptions struct {
	Poll   time.Duration // 0: DefaultPoll
	Logger *slog.Logger  // nil: slog.Default()
}

// Engine is an nn.Engine whose trainings run on workers (Worker) through
// NATS JetStream: Train publishes the job, waits for a worker to store
// its result, checks it and returns it — or returns at once a result an
// earlier run stored. Its methods may be called from many goroutines; a
// search should let as many trainings run at once as a generation has
// (search.Config.Workers), since each only waits.
type Engine struct {
	b    *bus
	opt  EngineOptions
	log  *slog.Logger
	sub  *nats.Subscription
	upMu sync.Mutex // serialises uploads, so each object is sent once

	mu      sync.Mutex
	objects map[any]string           // *dataset.Dataset or *nn.SoftTargets → object name, uploaded
	waiting map[string]chan struct{} // job key → wake-up of the Train waiting for it
	stats   Stats
}

// Stats count what an Engine did. Sizes are of message payloads.
type Stats struct {
	Published   int   // jobs published (a job published again after a rejected result counts again)
	Cached      int   // trainings answered from the results bucket without publishing
	Completed   int   // trainings whose result arrived after publishing
	Rejected    int   // stored results that did not fit their job (ignored, job published again)
	Redelivered int   // results of jobs delivered more than once (a worker died or was cut off)
	Ignored     int   // notices for keys no Train was waiting for
	Uploaded    int   // objects (datasets, teacher targets) uploaded
	JobBytes    int64 // total size of the published job messages
	ResultBytes int64 // total size of the results read
	UploadBytes int64 // total size of the uploaded objects
	// Workers maps each worker's name to its share of Completed.
	Workers map[string]WorkerStats
}

// WorkerStats is one worker's part of an Engine's trainings.
type WorkerStats struct {
	Jobs    int
	Seconds float64 // training wall time on the worker
}

// NewEngine returns an Engine on the server nc is connected to, creating
// the stream and buckets if needed. Close releases its subscription (not
// nc).
func NewEngine(ctx context.Context, nc *nats.Conn, opt EngineOptions) (*Engine, error) {
	if opt.Poll <= 0 {
		opt.Poll = DefaultPoll
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	b, err := open(ctx, nc)
	if err != nil {
		return nil, err
	}
	e := &Engine{b: b, opt: opt, log: opt.Logger, objects: map[any]string{}, waiting: map[string]chan struct{}{}}
	e.stats.Workers = map[string]WorkerStats{}
	e.sub, err = nc.Subscribe(DoneSubject+".*", e.notice)
	if err != nil {
		return nil, fmt.Errorf("remote: subscribing to %s.*: %w", DoneSubject, err)
	}
	return e, nil
}

// Close stops listening for notices.
func (e *Engine) Close() error { return e.sub.Unsubscribe() }

// Name is the engine workers train with.
func (e *Engine) Name() string { return nn.Native().Name() }

// Stats returns a copy of the counts so far.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Workers = make(map[string]WorkerStats, len(e.stats.Workers))
	for k, v := range e.stats.Workers {
		s.Workers[k] = v
	}
	return s
}

// Queue is the state of the job stream's worker consumer.
type Queue struct {
	Queued      uint64 // jobs not yet delivered to a worker
	InFlight    int    // delivered, not yet acknowledged
	Redelivered int    // of those in flight, delivered more than once
}

// Queue reads the state of the workers' queue from the server. Before any
// worker has connected there is no consumer: every job counts as queued.
func (e *Engine) Queue(ctx context.Context) (Queue, error) {
	c, err := e.b.js.Consumer(ctx, JobStream, WorkerGroup)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		s, err := e.b.js.Stream(ctx, JobStream)
		if err != nil {
			return Queue{}, err
		}
		return Queue{Queued: s.CachedInfo().State.Msgs}, nil
	}
	if err != nil {
		return Queue{}, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return Queue{}, err
	}
	return Queue{Queued: info.NumPending, InFlight: info.NumAckPending, Redelivered: info.NumRedelivered}, nil
}

// String is a one-line summary for progress logs.
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d published, %d done remotely, %d from the results bucket, %d rejected, %d redelivered",
		s.Published, s.Completed, s.Cached, s.Rejected, s.Redelivered)
	names := make([]string, 0, len(s.Workers))
	for n := range s.Workers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w := s.Workers[n]
		fmt.Fprintf(&b, "; %s: %d jobs, %.2f s/job", n, w.Jobs, w.Seconds/float64(w.Jobs))
	}
	return b.String()
}

func (e *Engine) notice(m *nats.Msg) {
	key := strings.TrimPrefix(m.Subject, DoneSubject+".")
	e.mu.Lock()
	defer e.mu.Unlock()
	ch, ok := e.waiting[key]
	if !ok {
		e.stats.Ignored++
		return
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Train trains net on a worker (or takes the result an earlier training
// of the same job stored) and returns what nn.Native().Train would have
// returned on this machine. It refuses a configuration Validate refuses
// without contacting anyone, and returns ctx's error, wrapped, if ctx
// ends first (the job stays queued: its result will be reused).
func (e *Engine) Train(ctx context.Context, net arch.Network, train, val *dataset.Dataset, cfg nn.Config) (*nn.Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	j, err := e.job(ctx, net, train, val, cfg)
	if err != nil {
		return nil, err
	}
	key, err := j.key()
	if err != nil {
		return nil, fmt.Errorf("remote: job key: %w", err)
	}
	wake := make(chan struct{}, 1)
	e.mu.Lock()
	e.waiting[key] = wake
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.waiting, key)
		e.mu.Unlock()
	}()

	published := false
	var rejected uint64 // revision of the last result rejected
	for {
		entry, err := e.b.results.Get(ctx, key)
		switch {
		case err == nil:
			r, res, err := check(entry.Value(), key, net, val, cfg)
			if err == nil || !errors.Is(err, errRejected) {
				e.record(r, len(entry.Value()), published)
				if err != nil {
					return nil, fmt.Errorf("remote: training %s: %w", net, err)
				}
				return res, nil
			}
			e.log.Warn("remote: ignoring a stored result", "arch", net.String(), "key", key[:12], "why", err)
			e.mu.Lock()
			e.stats.Rejected++
			e.mu.Unlock()
			if entry.Revision() > rejected {
				rejected = entry.Revision()
				// Only that revision: a good result stored since stays.
				if err := e.b.results.Delete(ctx, key, jetstream.LastRevision(rejected)); err != nil {
					e.log.Debug("remote: deleting a rejected result", "key", key[:12], "err", err)
				}
				published = e.republish(ctx, key, j, rejected, net)
			}
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if !published {
				published = e.republish(ctx, key, j, rejected, net)
			}
		case ctx.Err() != nil:
			return nil, fmt.Errorf("remote: training %s: %w", net, ctx.Err())
		default:
			// The server is away (restarting, or the connection is down):
			// keep waiting, the client reconnects.
			e.log.Debug("remote: reading the results bucket, will retry", "key", key[:12], "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("remote: training %s: %w", net, ctx.Err())
		case <-wake:
		case <-time.After(e.opt.Poll):
		}
	}
}

// record counts a result Train returns.
func (e *Engine) record(r *result, size int, published bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.ResultBytes += int64(size)
	if !published {
		e.stats.Cached++
		return
	}
	e.stats.Completed++
	if r.Delivery > 1 {
		e.stats.Redelivered++
	}
	w := e.stats.Workers[r.Worker]
	w.Jobs++
	w.Seconds += r.Seconds
	e.stats.Workers[r.Worker] = w
}

// republish publishes the job and reports whether it was sent; a failure
// (the server away) is logged, and Train tries again at its next turn.
func (e *Engine) republish(ctx context.Context, key string, j *job, rejected uint64, net arch.Network) bool {
	err := e.publish(ctx, key, j, rejected)
	if err != nil && ctx.Err() == nil {
		e.log.Warn("remote: publishing a job, will retry", "arch", net.String(), "err", err)
	}
	return err == nil
}

// publish sends the job. Its message id is the key, or after a rejected
// result the key and that result's revision, so that publishing again
// after a lost acknowledgement is dropped as a duplicate but publishing
// again after a rejected result is not.
func (e *Engine) publish(ctx context.Context, key string, j *job, rejected uint64) error {
	body, err := json.Marshal(envelope{Key: key, Job: *j})
	if err != nil {
		return err
	}
	id := key
	if rejected > 0 {
		id += "." + strconv.FormatUint(rejected, 10)
	}
	ack, err := e.b.js.Publish(ctx, JobSubject, body, jetstream.WithMsgID(id))
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.stats.Published++
	e.stats.JobBytes += int64(len(body))
	e.mu.Unlock()
	e.log.Debug("remote: job published", "key", key[:12], "bytes", len(body), "duplicate", ack.Duplicate)
	return nil
}

// job builds the job of a training, uploading its data if needed.
func (e *Engine) job(ctx context.Context, net arch.Network, train, val *dataset.Dataset, cfg nn.Config) (*job, error) {
	j := &job{Version: jobVersion, Engine: e.Name(), Config: cfg, Layers: make([]frame.Layer, len(net.Layers))}
	for i, l := range net.Layers {
		j.Layers[i] = frame.FromArch(l)
	}
	j.Config.Teacher, j.Config.Init = nil, nil
	var err error
	if j.Train, err = e.dataset(ctx, train); err != nil {
		return nil, err
	}
	if val != nil && val.Len() > 0 {
		if j.Val, err = e.dataset(ctx, val); err != nil {
			return nil, err
		}
	}
	if cfg.Teacher != nil {
		if j.Teacher, err = e.targets(ctx, cfg.Teacher); err != nil {
			return nil, err
		}
	}
	if cfg.Init != nil {
		var buf bytes.Buffer
		if err := nn.Save(&buf, cfg.Init); err != nil {
			return nil, fmt.Errorf("remote: initial model: %w", err)
		}
		j.Init = buf.Bytes()
	}
	return j, nil
}

// dataset returns the object name of d, uploading it the first time.
func (e *Engine) dataset(ctx context.Context, d *dataset.Dataset) (string, error) {
	return e.object(ctx, d, func() (string, []byte, error) {
		if err := d.Validate(); err != nil {
			return "", nil, err
		}
		var buf bytes.Buffer
		if err := dataset.Write(&buf, d, dataset.F32); err != nil {
			return "", nil, err
		}
		return datasetObject(d), buf.Bytes(), nil
	})
}

// targets returns the object name of teacher targets, uploading them the
// first time.
func (e *Engine) targets(ctx context.Context, s *nn.SoftTargets) (string, error) {
	return e.object(ctx, s, func() (string, []byte, error) {
		b, err := s.MarshalBinary()
		if err != nil {
			return "", nil, err
		}
		return targetsObject(b), b, nil
	})
}

// object returns the object name of v (a pointer, so the same value is
// encoded and hashed once per Engine), uploading its encoding unless the
// data bucket already holds an object of that name: each content crosses
// the network once, whatever the number of coordinators.
func (e *Engine) object(ctx context.Context, v any, encode func() (string, []byte, error)) (string, error) {
	e.mu.Lock()
	name, ok := e.objects[v]
	e.mu.Unlock()
	if ok {
		return name, nil
	}
	e.upMu.Lock()
	defer e.upMu.Unlock()
	e.mu.Lock()
	name, ok = e.objects[v]
	e.mu.Unlock()
	if ok {
		return name, nil
	}
	name, body, err := encode()
	if err != nil {
		return "", fmt.Errorf("remote: encoding data: %w", err)
	}
	if _, err := e.b.data.GetInfo(ctx, name); errors.Is(err, jetstream.ErrObjectNotFound) {
		if _, err := e.b.data.PutBytes(ctx, name, body); err != nil {
			return "", fmt.Errorf("remote: uploading %s (%d bytes): %w", name, len(body), err)
		}
		e.mu.Lock()
		e.stats.Uploaded++
		e.stats.UploadBytes += int64(len(body))
		e.mu.Unlock()
		e.log.Info("remote: data uploaded", "object", name[:min(len(name), 24)], "bytes", len(body))
	} else if err != nil {
		return "", fmt.Errorf("remote: data bucket: %w", err)
	}
	e.mu.Lock()
	e.objects[v] = name
	e.mu.Unlock()
	return name, nil
}
