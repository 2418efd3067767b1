package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/splitnas/splitnas/internal/testenv"
)

var natsURLRE = regexp.MustCompile(`JetStream on ((?:nats|tls)://[0-9.:]+) `)

// startProcess starts the splitnas command as a process that the test
// stops (SIGTERM) at its end, and returns its standard output's lines.
func startProcess(t *testing.T, args ...string) <-chan string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SPLITNAS_TEST_MAIN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("%v: %v\n%s", args[:2], err, stderr.String())
		}
	})
	return lines
}

// startNATS runs `splitnas nats` on a free port and returns its URL.
func startNATS(t *testing.T, args ...string) string {
	t.Helper()
	lines := startProcess(t, append([]string{"nats", "--dir", t.TempDir(), "--listen", "127.0.0.1:0"}, args...)...)
	select {
	case l := <-lines:
		m := natsURLRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("splitnas nats printed %q", l)
		}
		return m[1]
	case <-time.After(20 * time.Second):
		t.Fatal("splitnas nats printed no address")
	}
	return ""
}

func tokenFile(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte("cli-test-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSearchOnNATS: `splitnas nats`, two `splitnas worker` processes and
// `splitnas search --nats` give the result.json candidates and best of a
// local search with the same flags.
func TestSearchOnNATS(t *testing.T) {
	tok := tokenFile(t)
	url := startNATS(t, "--token-file", tok)
	for _, name := range []string{"a", "b"} {
		startProcess(t, "worker", "--nats", url, "--token-file", tok, "--concurrency", "1", "--name", name)
	}
	local, remote := filepath.Join(t.TempDir(), "local"), filepath.Join(t.TempDir(), "remote")
	if _, err := run(t, append(tinySearch, "--out", local)...); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, append(tinySearch, "--out", remote, "--nats", url, "--token-file", tok)...); err != nil {
		t.Fatal(err)
	}
	want, got := readResult(t, local), readResult(t, remote)
	for _, c := range append(want.Candidates, got.Candidates...) {
		delete(c, "train_seconds")
	}
	if !reflect.DeepEqual(got.Best, want.Best) || !reflect.DeepEqual(got.Candidates, want.Candidates) {
		t.Errorf("search --nats differs from the local search:\n got %+v\n%v\nwant %+v\n%v", got.Best, got.Candidates, want.Best, want.Candidates)
	}
}

// TestNATSBadInput: wrong flags and refused connections exit non-zero
// with a message naming the flag, and no panic.
func TestNATSBadInput(t *testing.T) {
	tok := tokenFile(t)
	url := startNATS(t, "--token-file", tok)
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("not-the-token"), 0o600)
	cert, key, _ := testenv.SelfSigned(t, t.TempDir())
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"worker"}, "--nats is required"},
		{[]string{"worker", "--nats", url}, "--nats " + url + ": remote: connecting to " + url + ": nats: Authorization Violation"},
		{[]string{"worker", "--nats", url, "--token-file", wrong}, "Authorization Violation"},
		{[]string{"worker", "--nats", url, "--token-file", tok, "--creds", tok}, "--token-file and --creds: give one way"},
		{[]string{"worker", "--nats", url, "--token-file", "/nonexistent"}, "--token-file: open /nonexistent"},
		{[]string{"worker", "--nats", url, "--token-file", tok, "--concurrency", "-2"}, "--concurrency -2"},
		{[]string{"worker", "--nats", url, "--token-file", tok, "--ack-wait", "10ms"}, "--ack-wait 10ms: want at least 1s"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:1", "--token-file", tok}, "--nats nats://127.0.0.1:1"},
		{append(append([]string{}, tinySearch...), "--token-file", tok), "--token-file, --creds and --tls-ca go with --nats"},
		{append(append([]string{}, tinySearch...), "--nats", url), "Authorization Violation"},
		{[]string{"nats"}, "--dir is required"},
		{[]string{"nats", "--dir", t.TempDir()}, "--token-file is required"},
		{[]string{"nats", "--dir", t.TempDir(), "--insecure", "--listen", "0.0.0.0:0"}, "--insecure with --listen 0.0.0.0:0"},
		{[]string{"nats", "--dir", t.TempDir(), "--insecure", "--token-file", tok}, "--insecure runs without a token"},
		{[]string{"nats", "--dir", t.TempDir(), "--insecure", "--listen", "127.0.0.1:x"}, `--listen 127.0.0.1:x: port "x"`},
		{[]string{"nats", "--dir", t.TempDir(), "--insecure", "--listen", "127.0.0.1"}, "--listen 127.0.0.1: address 127.0.0.1: missing port"},
		{[]string{"nats", "--dir", t.TempDir(), "--insecure", "--tls-cert", cert}, "--tls-cert and --tls-key go together"},
		{[]string{"nats", "--dir", t.TempDir(), "--insecure", "--tls-cert", key, "--tls-key", key}, "--tls-cert/--tls-key"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, stderr, code := runProcess(t, c.args...)
			if code == 0 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "panic") {
				t.Errorf("exit %d, stderr %q; want non-zero and %q", code, stderr, c.want)
			}
		})
	}
}

// TestNATSTLS: a server with a certificate takes a worker that trusts it
// (--tls-ca) and refuses one that does not.
func TestNATSTLS(t *testing.T) {
	tok := tokenFile(t)
	cert, key, _ := testenv.SelfSigned(t, t.TempDir())
	url := startNATS(t, "--token-file", tok, "--tls-cert", cert, "--tls-key", key)
	lines := startProcess(t, "worker", "--nats", url, "--token-file", tok, "--tls-ca", cert, "--concurrency", "1")
	// The worker prints nothing on stdout; it must still be running after
	// connecting (its log goes to stderr, checked at the end).
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("worker with --tls-ca exited")
		}
		t.Logf("worker: %s", l)
	case <-time.After(2 * time.Second):
	}
	_, stderr, code := runProcess(t, "worker", "--nats", url, "--token-file", tok)
	if code == 0 || !strings.Contains(stderr, "tls") {
		t.Errorf("worker without --tls-ca: exit %d, stderr %q; want a TLS error", code, stderr)
	}
}

// TestBenchNATS: bench nats runs the search locally and on two worker
// processes, finds the same result both ways, and its repeat trains
// nothing.
func TestBenchNATS(t *testing.T) {
	stdout, stderr, code := runProcess(t, "bench", "nats", "--population", "4", "--generations", "1", "--epochs", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep benchNATSReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if !rep.SameResult || rep.RepeatPublished != 0 || rep.Trainings < 1 || rep.Workers != 2 ||
		!(rep.LocalTrainingsPerS > 0) || !(rep.RemoteTrainingsPerS > 0) || rep.ResultBytesPerTraining < 1000 || rep.UploadBytes < 1e6 {
		t.Errorf("report %+v", rep)
	}
}
