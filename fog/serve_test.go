package fog

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/splitnas/splitnas/internal/testenv"
)

// inFlight reads the in-flight gauge from reg.
func inFlight(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "splitnas_fog_in_flight_requests" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no in-flight gauge")
	return 0
}

// startSlowRequest opens a connection to addr and sends an inference
// request's headers and the first half of its body; it returns the
// connection and the rest of the body.
func startSlowRequest(t *testing.T, addr string, m *Model, P int, payload []byte) (net.Conn, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("POST /v1/models/%s:infer HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\n%s: %d\r\n%s: %s\r\nContent-Length: %d\r\n\r\n",
		m.Name(), addr, testToken, ContentTypeRaw, HeaderSplit, P, HeaderDtype, m.Dtype(), len(payload))
	half := len(payload) / 2
	if _, err := conn.Write(append([]byte(head), payload[:half]...)); err != nil {
		t.Fatal(err)
	}
	return conn, payload[half:]
}

// runServer serves ms with testToken on a loopback port through Run, with
// a fresh registry and the given shutdown grace; cancel starts the
// shutdown, done receives Run's result.
func runServer(t *testing.T, ms []*Model, grace time.Duration) (reg *prometheus.Registry, addr string, cancel context.CancelFunc, done chan error) {
	t.Helper()
	reg = prometheus.NewRegistry()
	s, err := NewServer(ms, Options{Token: []byte(testToken), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- Run(ctx, NewHTTPServer(s, DefaultTimeouts(), nil, nil), ln, grace) }()
	return reg, ln.Addr().String(), cancel, done
}

// TestGracefulShutdown stops the server while a request's body is still
// arriving: the listener closes at once, the request finishes with a 200,
// and Run returns nil.
func TestGracefulShutdown(t *testing.T) {
	fm, _, _, ms := testModels(t)
	reg, addr, cancel, done := runServer(t, ms, 10*time.Second)

	x := gaussian(1, fm.Network().Input(), 6).Sample(0)
	payload, _ := ms[0].Edge(x, 1)
	conn, rest := startSlowRequest(t, addr, ms[0], 1, payload)
	deadline := time.Now().Add(5 * time.Second)
	for inFlight(t, reg) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the handler")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel() // as SIGTERM does in splitnas serve
	for {    // the listener closes
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after shutdown began")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := conn.Write(rest); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), fmt.Sprintf(`"class":%d`, fm.Predict(x))) {
		t.Errorf("in-flight request: %d %s", resp.StatusCode, body)
	}
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestShutdownDeadline: a request that never completes is cut off after the
// grace period, and Run says so.
func TestShutdownDeadline(t *testing.T) {
	fm, _, _, ms := testModels(t)
	reg, addr, cancel, done := runServer(t, ms, 100*time.Millisecond)
	payload, _ := ms[0].Edge(gaussian(1, fm.Network().Input(), 6).Sample(0), 0)
	startSlowRequest(t, addr, ms[0], 0, payload)
	for inFlight(t, reg) != 1 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run: %v, want context.DeadlineExceeded", err)
	}
}

// TestSlowClientTimedOut: a client that sends half its headers and stops
// loses the connection after ReadHeader.
func TestSlowClientTimedOut(t *testing.T) {
	_, _, _, ms := testModels(t)
	s, err := NewServer(ms, Options{Token: []byte(testToken)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	to := DefaultTimeouts()
	to.ReadHeader, to.Read = 200*time.Millisecond, 400*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Run(ctx, NewHTTPServer(s, to, nil, nil), ln, time.Second)
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n"))
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.ReadAll(conn) // returns when the server closes the connection
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("connection held %v, want about %v", el, to.ReadHeader)
	}
}

// TestBench runs a small bench: every request answered with the right
// class, the counts add up.
func TestBench(t *testing.T) {
	fm, _, _, ms := testModels(t)
	_, ts, _ := newTestServer(t, ms)
	c := &Client{BaseURL: ts.URL, Token: testToken, HTTP: ts.Client()}
	d := gaussian(8, fm.Network().Input(), 7)
	for _, m := range ms {
		l := Load{Model: m.Name(), Split: 1, Dtype: m.Dtype(), Clients: 4, Requests: 100}
		for i := range d.Len() {
			p, _ := m.Edge(d.Sample(i), 1)
			r, err := m.Finish(1, p)
			if err != nil {
				t.Fatal(err)
			}
			l.Payloads, l.Want = append(l.Payloads, p), append(l.Want, r.Class)
		}
		res, err := Bench(context.Background(), c, l)
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 100 || res.Errors != 0 || res.Throughput <= 0 || !(res.P50ms > 0 && res.P50ms <= res.P99ms && res.P99ms <= res.MaxMs) {
			t.Errorf("%s: %+v", m.Name(), res)
		}
		l.Want[0] = (l.Want[0] + 1) % 5
		if _, err := Bench(context.Background(), c, l); err == nil || !strings.Contains(err.Error(), "want") {
			t.Errorf("wrong wanted class: %v", err)
		}
	}
	if _, err := Bench(context.Background(), c, Load{Clients: 4, Requests: 2, Payloads: [][]byte{{1}}}); err == nil {
		t.Error("2 requests for 4 clients: no error")
	}
}

// TestTLS serves HTTPS with a certificate loaded by TLSConfig: a client
// trusting it gets its answer, a plain HTTP request does not.
func TestTLS(t *testing.T) {
	fm, _, _, ms := testModels(t)
	s, err := NewServer(ms, Options{Token: []byte(testToken)})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, pool := testenv.SelfSigned(t, t.TempDir())
	cfg, err := TLSConfig(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TLSConfig(keyFile, certFile); err == nil {
		t.Error("TLSConfig with the files swapped: no error")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, NewHTTPServer(s, DefaultTimeouts(), cfg, nil), ln, time.Second) }()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	c := &Client{BaseURL: "https://" + ln.Addr().String(), Token: testToken, HTTP: hc}
	x := gaussian(1, fm.Network().Input(), 8).Sample(0)
	p, _ := ms[1].Edge(x, 2)
	r, err := c.Infer(context.Background(), "i8", 2, Int8, p)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := ms[1].Finish(2, p); r.Class != want.Class {
		t.Errorf("class %d, want %d", r.Class, want.Class)
	}
	plain := &Client{BaseURL: "http://" + ln.Addr().String(), Token: testToken}
	if _, err := plain.Models(context.Background()); err == nil {
		t.Error("plain HTTP to the HTTPS server: no error")
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
