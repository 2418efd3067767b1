package remote

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/internal/frame"
	"github.com/splitnas/splitnas/internal/testenv"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/search"
)

// The test binary doubles as a worker process: with these variables set,
// TestMain runs a Worker instead of the tests (as `splitnas worker` does),
// printing "started KEY" on stdout as each training starts.
const (
	workerURLEnv   = "SPLITNAS_REMOTE_TEST_WORKER"
	workerTokenEnv = "SPLITNAS_REMOTE_TEST_TOKEN"
	workerNameEnv  = "SPLITNAS_REMOTE_TEST_NAME"
	workerAckEnv   = "SPLITNAS_REMOTE_TEST_ACK_WAIT" // overrides testAckWait
	testToken      = "s3cret-test-token"
	testAckWait    = 2 * time.Second
)

func TestMain(m *testing.M) {
	if url := os.Getenv(workerURLEnv); url != "" {
		os.Exit(workerProcess(url))
	}
	os.Exit(m.Run())
}

func workerProcess(url string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	nc, err := Connect(url, ConnectOptions{Name: os.Getenv(workerNameEnv), Token: os.Getenv(workerTokenEnv), ReconnectWait: 100 * time.Millisecond})
	if err != nil {
		log.Error("worker", "err", err)
		return 1
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var mu sync.Mutex
	ackWait := testAckWait
	if v := os.Getenv(workerAckEnv); v != "" {
		ackWait, _ = time.ParseDuration(v)
	}
	w := &Worker{Name: os.Getenv(workerNameEnv), Concurrency: 1, AckWait: ackWait, Logger: log,
		OnJob: func(key, arch string, done bool, err error) {
			if !done {
				mu.Lock()
				fmt.Printf("started %s\n", key)
				mu.Unlock()
			}
		}}
	if err := w.Run(ctx, nc); err != nil {
		log.Error("worker", "err", err)
		return 1
	}
	return 0
}

// workerProc is a worker process; started receives the key of each
// training it starts.
type workerProc struct {
	cmd     *exec.Cmd
	started chan string
}

func startWorker(t *testing.T, url, name string, env ...string) *workerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerURLEnv+"="+url, workerTokenEnv+"="+testToken, workerNameEnv+"="+name)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logw := &testLog{t: t, prefix: name + ": "}
	cmd.Stderr = logw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &workerProc{cmd: cmd, started: make(chan string, 1000)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if k, ok := strings.CutPrefix(sc.Text(), "started "); ok {
				p.started <- k
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		logw.close()
	})
	return p
}

// testLog forwards a process's log lines to t.Log while the test runs.
type testLog struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	done   bool
}

func (l *testLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done && testing.Verbose() {
		l.t.Log(l.prefix + strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

func (l *testLog) close() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}

func startServer(t *testing.T, dir string, port int) *server.Server {
	t.Helper()
	s, err := StartServer(ServerConfig{Dir: dir, Port: port, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func port(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := Connect(url, ConnectOptions{Name: "coordinator", Token: testToken, ReconnectWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// smallSearch is a search of a few seconds: 6 candidates × 2 generations.
func smallSearch(t testing.TB) search.Config {
	t.Helper()
	prof, err := hw.Load("stm32l476")
	if err != nil {
		t.Fatal(err)
	}
	cfg := search.DefaultConfig(3)
	cfg.Space = arch.Space{
		InputLength: 256, InputChannels: 1, Classes: 3, Slots: 3,
		Lengths: []int{128, 32, 8, 0}, Channels: []int{8, 4, 2}, Kernel: arch.DefaultKernelRule(),
	}
	cfg.Profile = prof
	cfg.Population, cfg.Generations, cfg.Elite = 6, 2, 1
	cfg.Train.Epochs, cfg.Train.LR = 3, 0.01
	cfg.Seed = 11
	return cfg
}

// localRuns caches local reference searches by configuration.
var localRuns sync.Map

func localSearch(t *testing.T, cfg search.Config, d *dataset.Dataset) *search.Result {
	t.Helper()
	key := fmt.Sprintf("%d/%p/%v", d.Len(), cfg.Teacher, cfg.Train.Epochs)
	if r, ok := localRuns.Load(key); ok {
		return r.(*search.Result)
	}
	r, err := search.Run(context.Background(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	localRuns.Store(key, r)
	return r
}

// remoteSearch runs cfg as a coordinator on url. It may run on another
// goroutine than the test's: it reports failures as errors.
func remoteSearch(ctx context.Context, t *testing.T, url string, cfg search.Config, d *dataset.Dataset) (*search.Result, *Engine, error) {
	nc, err := Connect(url, ConnectOptions{Name: "coordinator", Token: testToken, ReconnectWait: 100 * time.Millisecond})
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(nc.Close)
	e, err := NewEngine(ctx, nc, EngineOptions{Poll: 300 * time.Millisecond})
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { e.Close() })
	cfg.Engine, cfg.Workers = e, cfg.Population
	r, err := search.Run(ctx, cfg, d)
	return r, e, err
}

type outcome struct {
	r   *search.Result
	e   *Engine
	err error
}

// goSearch runs remoteSearch on a goroutine.
func goSearch(t *testing.T, url string, cfg search.Config, d *dataset.Dataset) <-chan outcome {
	done := make(chan outcome, 1)
	go func() {
		r, e, err := remoteSearch(t.Context(), t, url, cfg, d)
		done <- outcome{r, e, err}
	}()
	return done
}

// sameResult fails unless two searches chose the same model with the same
// scores from the same candidates (wall times aside).
func sameResult(t *testing.T, want, got *search.Result) {
	t.Helper()
	if len(got.Candidates) != len(want.Candidates) {
		t.Fatalf("%d candidates, the local search has %d", len(got.Candidates), len(want.Candidates))
	}
	for i := range want.Candidates {
		w, g := want.Candidates[i], got.Candidates[i]
		w.TrainSeconds, g.TrainSeconds = 0, 0
		if !reflect.DeepEqual(w, g) {
			t.Errorf("candidate %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	wb, gb := *want.Best, *got.Best
	wb.Model, gb.Model = "", "" // the file name, set when the search has a directory
	for _, f := range []*search.Final{wb.Final, gb.Final} {
		if f != nil {
			for i := range f.Runs {
				f.Runs[i].Seconds = 0
			}
		}
	}
	if !reflect.DeepEqual(wb, gb) {
		t.Errorf("best:\n got %+v\nwant %+v", gb, wb)
	}
}

func trained(r *search.Result) int {
	n := 0
	for _, c := range r.Candidates {
		if c.Status != search.Abandoned {
			n++
		}
	}
	return n
}

// TestRemoteSearchMatchesLocal: one coordinator and two worker processes
// find exactly what a local search with the same seed finds; a second
// identical search trains nothing, every result coming from the bucket.
func TestRemoteSearchMatchesLocal(t *testing.T) {
	d := testenv.Waves(t, 60)
	cfg := smallSearch(t)
	want := localSearch(t, cfg, d)

	s := startServer(t, t.TempDir(), -1)
	startWorker(t, s.ClientURL(), "w1")
	startWorker(t, s.ClientURL(), "w2")
	got, e, err := remoteSearch(t.Context(), t, s.ClientURL(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	sameResult(t, want, got)
	st := e.Stats()
	t.Logf("first search: %v", st)
	if st.Completed != trained(got) || st.Cached != 0 || st.Rejected != 0 || st.Uploaded != 2 {
		t.Errorf("first search: %+v, want %d trainings done remotely, none cached or rejected, 2 datasets uploaded", st, trained(got))
	}

	again, e2, err := remoteSearch(t.Context(), t, s.ClientURL(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	sameResult(t, want, again)
	if st := e2.Stats(); st.Published != 0 || st.Cached != trained(again) || st.Uploaded != 0 {
		t.Errorf("second search: %+v, want nothing published or uploaded, %d results from the bucket", st, trained(again))
	}
}

// TestWorkerKilledMidTraining: a worker killed (SIGKILL) while training
// never acknowledges its job, which goes to another worker after the ack
// wait; the search ends as a local one does.
func TestWorkerKilledMidTraining(t *testing.T) {
	d := testenv.Waves(t, 400) // trainings of a second or so, to be killed in
	cfg := smallSearch(t)
	want := localSearch(t, cfg, d)

	s := startServer(t, t.TempDir(), -1)
	victim := startWorker(t, s.ClientURL(), "victim")
	done := goSearch(t, s.ClientURL(), cfg, d)
	select {
	case k := <-victim.started:
		if err := victim.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		t.Logf("killed the worker training %.12s…", k)
	case <-time.After(time.Minute):
		t.Fatal("the worker started no training within a minute")
	}
	startWorker(t, s.ClientURL(), "survivor")
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	sameResult(t, want, o.r)
	st := o.e.Stats()
	t.Logf("%v", st)
	if st.Redelivered < 1 || st.Workers["survivor"].Jobs != st.Completed {
		t.Errorf("stats %+v: want the killed worker's job redelivered and every job done by the survivor", st)
	}
}

// TestServerRestartMidSearch: the NATS server stops and starts again (same
// storage directory and port) while a search runs, with a teacher's
// targets among the data; the search ends as a local one does.
func TestServerRestartMidSearch(t *testing.T) {
	d := testenv.Waves(t, 400)
	cfg := smallSearch(t)
	teacher, err := nn.NewModel(mustParse(t, "256x1-64x8-16x8-3"), 9)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Teacher, cfg.Temperature = teacher, 2
	want := localSearch(t, cfg, d)

	dir := t.TempDir()
	s := startServer(t, dir, -1)
	url, p := s.ClientURL(), port(s)
	startWorker(t, url, "w1")
	startWorker(t, url, "w2")
	var (
		mu      sync.Mutex
		n       int
		halfway = make(chan struct{})
	)
	cfg.OnTrained = func(search.Candidate) {
		mu.Lock()
		defer mu.Unlock()
		if n++; n == 3 {
			close(halfway)
		}
	}
	done := goSearch(t, url, cfg, d)
	select {
	case <-halfway:
	case o := <-done:
		t.Fatalf("the search ended before the restart: %v", o.err)
	}
	s.Shutdown()
	s.WaitForShutdown()
	time.Sleep(500 * time.Millisecond)
	startServer(t, dir, p)
	mu.Lock()
	before := n
	mu.Unlock()
	t.Logf("server restarted after %d trainings", before)
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	sameResult(t, want, o.r)
	if after := trained(o.r) - before; after < 1 {
		t.Errorf("every training ended before the restart: it tested nothing")
	}
}

// TestBadResults: a saboteur takes the first jobs and stores garbage, a
// result naming another job, a model of another architecture and a
// history that does not match its model, and sends notices for a job
// nobody waits for; the coordinator ignores all of them, publishes the
// jobs again, and a real worker's results make the search end as a local
// one does.
func TestBadResults(t *testing.T) {
	d := testenv.Waves(t, 60)
	cfg := smallSearch(t)
	want := localSearch(t, cfg, d)

	s := startServer(t, t.TempDir(), -1)
	done := goSearch(t, s.ClientURL(), cfg, d)

	nc := connect(t, s.ClientURL())
	b, err := open(t.Context(), nc)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := b.consumer(t.Context(), testAckWait)
	if err != nil {
		t.Fatal(err)
	}
	other, err := nn.NewModel(mustParse(t, "256x1-8x2-3"), 1)
	if err != nil {
		t.Fatal(err)
	}
	sabotage := []func(key string, j job) *result{
		nil, // garbage bytes
		func(key string, j job) *result {
			return &result{Key: strings.Repeat("0", 64), Model: save(t, other), History: make([]nn.Epoch, 1)}
		},
		func(key string, j job) *result {
			return &result{Key: key, Model: save(t, other), History: make([]nn.Epoch, 1)}
		},
		func(key string, j job) *result {
			net, _ := j.network()
			m, _ := nn.NewModel(net, 1)
			return &result{Key: key, Model: save(t, m), History: []nn.Epoch{{ValAcc: 1.5}}}
		},
	}
	for i, bad := range sabotage {
		msg, err := cons.Next()
		if err != nil {
			t.Fatalf("saboteur: job %d: %v", i, err)
		}
		var env envelope
		if err := json.Unmarshal(msg.Data(), &env); err != nil {
			t.Fatal(err)
		}
		val := []byte("garbage, not a result")
		if bad != nil {
			if val, err = bad(env.Key, env.Job).encode(); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.results.Put(t.Context(), env.Key, val); err != nil {
			t.Fatal(err)
		}
		nc.Publish(DoneSubject+"."+env.Key, nil)
		nc.Publish(DoneSubject+"."+strings.Repeat("f", 64), nil) // nobody's job
		if err := msg.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	nc.Flush()
	startWorker(t, s.ClientURL(), "honest")
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	sameResult(t, want, o.r)
	if st := o.e.Stats(); st.Rejected != len(sabotage) || st.Ignored < len(sabotage) {
		t.Errorf("stats %+v: want %d results rejected and the notices for nobody's job ignored", st, len(sabotage))
	}
}

func save(t *testing.T, m *nn.Model) []byte {
	t.Helper()
	var buf strings.Builder
	if err := nn.Save(&buf, m); err != nil {
		t.Fatal(err)
	}
	return []byte(buf.String())
}

// TestBadJobInput: a job whose data is missing from the bucket, or whose
// content does not hash to its name, fails with a TrainingError saying
// so (a search would stop with it), and malformed job messages are dropped
// without stopping the worker.
func TestBadJobInput(t *testing.T) {
	d := testenv.Waves(t, 30)
	train, val := d.Part(dataset.Train), d.Part(dataset.Val)
	net := mustParse(t, "256x1-8x4-3")
	cfg := nn.DefaultConfig()
	cfg.Epochs = 2

	s := startServer(t, t.TempDir(), -1)
	nc := connect(t, s.ClientURL())
	e, err := NewEngine(t.Context(), nc, EngineOptions{Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// Malformed messages first: the worker must drop them and go on.
	nc.Publish(JobSubject, []byte("{not json"))
	nc.Publish(JobSubject, []byte(`{"key":"abc","job":{"version":1,"engine":"native"}}`))
	w := &Worker{Name: "w", Concurrency: 1, AckWait: testAckWait, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(ctx, connect(t, s.ClientURL())) })
	defer func() { cancel(); wg.Wait() }()

	if _, err := e.Train(t.Context(), net, train, val, cfg); err != nil {
		t.Fatalf("a good job after malformed ones: %v", err)
	}
	for _, tt := range []struct {
		name   string
		damage func(obj string)
		want   string
	}{
		{"missing", func(obj string) { e.b.data.Delete(t.Context(), obj) }, "is not in bucket " + DataBucket},
		{"tampered", func(obj string) {
			other := testenv.Waves(t, 31).Part(dataset.Train)
			var buf strings.Builder
			dataset.Write(&buf, other, dataset.F32)
			e.b.data.PutString(t.Context(), obj, buf.String())
		}, "content hashes to dataset-"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A training set no worker has cached yet.
			tr := d.Part(dataset.Test)
			tr.X[0] += float32(len(tt.name))
			obj := datasetObject(tr)
			e.b.data.PutBytes(t.Context(), obj, nil) // stand-in: the engine skips uploading a name the bucket holds
			tt.damage(obj)
			e.mu.Lock()
			e.objects[tr] = obj
			e.mu.Unlock()
			_, err := e.Train(t.Context(), net, tr, val, cfg)
			var te *TrainingError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want a TrainingError saying %q", err, tt.want)
			}
		})
	}
}

// TestAuthentication: a server with a token refuses clients without it or
// with another.
func TestAuthentication(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	for _, tt := range []struct {
		name, token string
		ok          bool
	}{
		{"no token", "", false},
		{"wrong token", "guess", false},
		{"token", testToken, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := Connect(s.ClientURL(), ConnectOptions{Token: tt.token})
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				nc.Close()
				return
			}
			if err == nil {
				nc.Close()
				t.Fatal("connected")
			}
			if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
				t.Errorf("error %v, want an authorization violation", err)
			}
		})
	}
}

// TestJobKey: the key changes with everything a training depends on and
// survives the trip through JSON a worker makes.
func TestJobKey(t *testing.T) {
	net := mustParse(t, "256x1-32x4-8x4-3/o2")
	base := func() job {
		j := job{Version: jobVersion, Engine: "native", Config: nn.DefaultConfig(), Train: "dataset-a", Val: "dataset-b"}
		for _, l := range net.Layers {
			j.Layers = append(j.Layers, frame.FromArch(l))
		}
		return j
	}
	b0 := base()
	k0, err := b0.key()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(envelope{Key: k0, Job: b0})
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	if k, _ := env.Job.key(); k != k0 {
		t.Errorf("key after JSON %s, before %s", k, k0)
	}
	if got, err := env.Job.network(); err != nil || got.String() != net.String() {
		t.Errorf("network after JSON %v (%v), want %v", got, err, net)
	}
	for _, tt := range []struct {
		name string
		edit func(j *job)
	}{
		{"learning rate", func(j *job) { j.Config.LR = math.Nextafter(j.Config.LR, 1) }},
		{"seed", func(j *job) { j.Config.Seed++ }},
		{"epochs", func(j *job) { j.Config.Epochs++ }},
		{"training data", func(j *job) { j.Train = "dataset-c" }},
		{"validation data", func(j *job) { j.Val = "" }},
		{"teacher", func(j *job) { j.Teacher = "targets-a" }},
		{"kernel", func(j *job) { j.Layers[0].Kernel++ }},
		{"version", func(j *job) { j.Version++ }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j := base()
			tt.edit(&j)
			if k, _ := j.key(); k == k0 {
				t.Error("same key")
			}
		})
	}
}

func mustParse(t testing.TB, s string) arch.Network {
	t.Helper()
	net, err := arch.Parse(s, arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// TestCoordinatorInterruptedAndResumed: a coordinator stopped mid-search
// (Ctrl-C) saves its checkpoint as a local search does; resumed with a new
// engine, it ends with the local result, reusing the trainings stored
// meanwhile.
func TestCoordinatorInterruptedAndResumed(t *testing.T) {
	d := testenv.Waves(t, 60)
	cfg := smallSearch(t)
	want := localSearch(t, cfg, d)

	s := startServer(t, t.TempDir(), -1)
	startWorker(t, s.ClientURL(), "w1")
	cfg.Dir = t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	var once sync.Once
	// Ctrl-C as the first training of the second generation arrives: the
	// generation's other jobs are queued, and the worker goes on with them.
	cfg.OnTrained = func(c search.Candidate) {
		if c.Generation == 1 {
			once.Do(cancel)
		}
	}
	_, _, err := remoteSearch(ctx, t, s.ClientURL(), cfg, d)
	var ie *search.InterruptedError
	if !errors.As(err, &ie) {
		t.Fatalf("interrupted search: %v, want an InterruptedError", err)
	}
	cfg.OnTrained, cfg.Resume = nil, true
	got, e, err := remoteSearch(t.Context(), t, s.ClientURL(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	sameResult(t, want, got)
	if st := e.Stats(); st.Cached == 0 {
		t.Errorf("stats %+v: the resumed search reused no stored training", st)
	}
}

// TestDuplicateJobsSuppressed: publishing a job again under the same
// message id (a coordinator retrying after a lost acknowledgement, or a
// resumed one) leaves one message in the queue; after a rejected result
// the id changes, so the job is queued again.
func TestDuplicateJobsSuppressed(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	e, err := NewEngine(t.Context(), connect(t, s.ClientURL()), EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	j := &job{Version: jobVersion, Engine: "native", Config: nn.DefaultConfig(), Train: "dataset-x"}
	key, _ := j.key()
	queued := func() uint64 {
		q, err := e.Queue(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return q.Queued
	}
	for range 3 {
		if err := e.publish(t.Context(), key, j, 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := queued(); n != 1 {
		t.Errorf("the same job published 3 times: %d messages queued, want 1", n)
	}
	if err := e.publish(t.Context(), key, j, 7); err != nil {
		t.Fatal(err)
	}
	if n := queued(); n != 2 {
		t.Errorf("published again after rejecting revision 7: %d messages queued, want 2", n)
	}
}

// TestWorkerStoppedHandsBack: a worker stopped (SIGTERM, Ctrl-C) while
// training hands its job back at once: the next worker's first job is that
// one, though the ack wait (a minute here) has not passed; the search ends
// with the local result.
func TestWorkerStoppedHandsBack(t *testing.T) {
	d := testenv.Waves(t, 400)
	cfg := smallSearch(t)
	want := localSearch(t, cfg, d)

	s := startServer(t, t.TempDir(), -1)
	slow := workerAckEnv + "=1m"
	leaver := startWorker(t, s.ClientURL(), "leaver", slow)
	done := goSearch(t, s.ClientURL(), cfg, d)
	var key string
	select {
	case key = <-leaver.started:
	case <-time.After(time.Minute):
		t.Fatal("the worker started no training within a minute")
	}
	leaver.cmd.Process.Signal(syscall.SIGTERM)
	if err := leaver.cmd.Wait(); err != nil {
		t.Fatalf("worker on SIGTERM: %v", err)
	}
	stayer := startWorker(t, s.ClientURL(), "stayer", slow)
	select {
	case first := <-stayer.started:
		if first != key {
			t.Errorf("the next worker started with job %.12s…, not the stopped worker's %.12s…", first, key)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the next worker started no training within 30 s")
	}
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	sameResult(t, want, o.r)
}
