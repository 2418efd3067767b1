package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/fog"
	"github.com/splitnas/splitnas/nn"
)

// lockedBuffer is a bytes.Buffer a command writes while a test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var servingRE = regexp.MustCompile(`serving .* on (https?://[0-9.:\[\]]+) `)

// waitServing waits for serve's first line and returns its URL.
func waitServing(t *testing.T, out func() string, done <-chan error) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := servingRE.FindStringSubmatch(out()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended before serving: %v\n%s", err, out())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no address:\n%s", out())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startServe runs serve in process until the test ends (or cancel is
// called) and returns its URL.
func startServe(t *testing.T, args ...string) (url string, cancel func() error) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	cmd := newRootCmd()
	out := &lockedBuffer{}
	cmd.SetOut(out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(append([]string{"serve"}, args...))
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	url = waitServing(t, out.String, done)
	var once sync.Once
	var err error
	cancel = func() error {
		once.Do(func() {
			stop()
			err = <-done
			if err == nil && !strings.Contains(out.String(), "stopped") {
				err = fmt.Errorf("serve did not say it stopped:\n%s", out.String())
			}
		})
		return err
	}
	t.Cleanup(func() { cancel() })
	return url, cancel
}

// untrainedModel writes a float model with random weights of net.
func untrainedModel(t *testing.T, net string) string {
	t.Helper()
	n, err := arch.Parse(net, arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.NewModel(n, 1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.snnm")
	if err := nn.SaveFile(path, m); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeToken(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeRefuses: every wrong setting is refused before listening, with
// the flag named.
func TestServeRefuses(t *testing.T) {
	model := untrainedModel(t, "256x1-64x4-128x2-5")
	tok := writeToken(t, "abc\n")
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"--token-file", tok}, "--model is required"},
		{"no token", []string{"--model", model, "--addr", "127.0.0.1:0"}, "--token-file is required"},
		{"insecure on all interfaces", []string{"--model", model, "--insecure", "--addr", "0.0.0.0:0"}, "--insecure with --addr 0.0.0.0:0: serving without a token is allowed on a loopback address only"},
		{"insecure on empty host", []string{"--model", model, "--insecure", "--addr", ":0"}, "loopback address only"},
		{"insecure and token", []string{"--model", model, "--insecure", "--token-file", tok}, "drop it or --token-file"},
		{"missing token file", []string{"--model", model, "--token-file", filepath.Join(dir, "none")}, "--token-file: open"},
		{"empty token file", []string{"--model", model, "--token-file", writeToken(t, " \n\n")}, "is empty"},
		{"token with a space", []string{"--model", model, "--token-file", writeToken(t, "a b\n")}, "not visible ASCII"},
		{"cert without key", []string{"--model", model, "--token-file", tok, "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{"bad cert", []string{"--model", model, "--token-file", tok, "--tls-cert", tok, "--tls-key", tok}, "--tls-cert/--tls-key"},
		{"missing model", []string{"--model", filepath.Join(dir, "none.snnm"), "--token-file", tok}, "--model " + filepath.Join(dir, "none.snnm")},
		{"duplicate names", []string{"--model", model, "--model", model, "--token-file", tok}, "the name tiny is already"},
		{"bad name", []string{"--model", "a:b=" + model, "--token-file", tok}, "model name"},
		{"bad address", []string{"--model", model, "--token-file", tok, "--addr", "127.0.0.1:99999"}, "--addr 127.0.0.1:99999"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := run(t, append([]string{"serve"}, c.args...)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("serve %v: %v, want %q", c.args, err, c.want)
			}
		})
	}
}

// TestServeInsecureLoopback: --insecure on 127.0.0.1 serves without a
// token; the named model answers; cancelling stops it cleanly.
func TestServeInsecureLoopback(t *testing.T) {
	model := untrainedModel(t, "256x1-64x4-128x2-5")
	url, stop := startServe(t, "--model", "ecg="+model, "--insecure", "--addr", "127.0.0.1:0")
	infos, err := (&fog.Client{BaseURL: url}).Models(context.Background())
	if err != nil || len(infos) != 1 || infos[0].Name != "ecg" {
		t.Fatalf("models %+v, %v", infos, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still serving after the context ended")
	}
}

// TestServeSIGTERM runs serve as a process, stops it with SIGTERM while a
// request's body is still arriving: the request gets its 200, the process
// exits 0 and says every request finished.
func TestServeSIGTERM(t *testing.T) {
	model := untrainedModel(t, "256x1-64x4-128x2-5")
	tok := writeToken(t, "tok-\x41bc\n")
	cmd := exec.Command(os.Args[0], "serve", "--model", model, "--addr", "127.0.0.1:0", "--token-file", tok)
	cmd.Env = append(os.Environ(), "SPLITNAS_TEST_MAIN=1")
	out := &lockedBuffer{}
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	url := waitServing(t, out.String, done)
	addr := strings.TrimPrefix(url, "http://")

	// A request whose body arrives in two halves.
	m, err := loadAnyModel(model)
	if err != nil {
		t.Fatal(err)
	}
	fm, _ := fog.NewModel("tiny", m.Float, nil)
	payload, _ := fm.Edge(make([]float32, 256), 0)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/models/tiny:infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-Abc\r\nContent-Type: application/octet-stream\r\nSplitnas-Split: 0\r\nSplitnas-Dtype: float32\r\nContent-Length: %d\r\n\r\n", len(payload))
	conn.Write(payload[:512])
	time.Sleep(200 * time.Millisecond) // the server reads the headers and enters the handler
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("serve exited with a request in flight: %v\n%s", err, errOut.String())
	default:
	}
	conn.Write(payload[512:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"class":`) {
		t.Errorf("in-flight request: %d %s", resp.StatusCode, body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v\n%s", err, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	if !strings.Contains(out.String(), "stopped: every request in flight finished") {
		t.Errorf("stdout:\n%s", out.String())
	}
}
