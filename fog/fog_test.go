package fog

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant"
)

const testToken = "s3cret-token"

// testArch has a transposed layer (64x4 → 128x2 grows the length).
const testArch = "256x1-64x4-128x2-5"

var testClasses = []string{"N", "S", "V", "F", "Q"}

func mustParse(tb testing.TB, s string) arch.Network {
	tb.Helper()
	n, err := arch.Parse(s, arch.DefaultKernelRule())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// gaussian returns n windows of standard normal noise for net's input,
// labelled round-robin.
func gaussian(n int, shape arch.Shape, seed uint64) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 3))
	d := dataset.New(testClasses, shape.Ch, shape.Len)
	x := make([]float32, shape.Size())
	for i := range n {
		for j := range x {
			x[j] = float32(rng.NormFloat64())
		}
		if err := d.Add(x, i%len(testClasses), "r"); err != nil {
			panic(err)
		}
	}
	return d
}

// testModels returns a float model of testArch (random weights) and its
// int8 and int4 quantizations, calibrated on noise, as fog Models named
// f32, i8 and i4.
func testModels(tb testing.TB) (fm *nn.Model, q8, q4 *quant.Model, ms []*Model) {
	tb.Helper()
	fm, err := nn.NewModel(mustParse(tb, testArch), 1)
	if err != nil {
		tb.Fatal(err)
	}
	fm.Classes = testClasses
	cal := gaussian(32, fm.Network().Input(), 1)
	for _, bits := range []int{8, 4} {
		q, err := quant.PostTraining(fm, cal, quant.MinMax, bits)
		if err != nil {
			tb.Fatal(err)
		}
		q.Classes = testClasses
		if bits == 8 {
			q8 = q
		} else {
			q4 = q
		}
	}
	for _, c := range []struct {
		name string
		fm   *nn.Model
		qm   *quant.Model
	}{{"f32", fm, nil}, {"i8", nil, q8}, {"i4", nil, q4}} {
		m, err := NewModel(c.name, c.fm, c.qm)
		if err != nil {
			tb.Fatal(err)
		}
		ms = append(ms, m)
	}
	return fm, q8, q4, ms
}

// newTestServer serves ms with testToken on an httptest server.
func newTestServer(tb testing.TB, ms []*Model) (*Server, *httptest.Server, *prometheus.Registry) {
	tb.Helper()
	reg := prometheus.NewRegistry()
	s, err := NewServer(ms, Options{Token: []byte(testToken), Registerer: reg})
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(s)
	tb.Cleanup(ts.Close)
	return s, ts, reg
}

// TestSplitMatchesWhole sends every window at every split point of a float
// model (with a transposed layer) and of its int8 and int4 quantizations
// through the server: the class is the unsplit network's, and the scores
// are its scores bit for bit.
func TestSplitMatchesWhole(t *testing.T) {
	fm, q8, q4, ms := testModels(t)
	_, ts, _ := newTestServer(t, ms)
	c := &Client{BaseURL: ts.URL, Token: testToken}
	d := gaussian(60, fm.Network().Input(), 2)
	ctx := context.Background()
	for _, m := range ms {
		L := m.Layers()
		for P := 0; P <= L; P++ {
			t.Run(fmt.Sprintf("%s/P=%d", m.Name(), P), func(t *testing.T) {
				prec := m.Precision()
				wantBytes := m.Network().Tensor(P).Size() * prec.ActBits / 8
				agree := 0
				for i := range d.Len() {
					x := d.Sample(i)
					payload, err := m.Edge(x, P)
					if err != nil {
						t.Fatal(err)
					}
					if len(payload) != wantBytes || len(payload) != m.Bytes(P) {
						t.Fatalf("window %d: %d bytes sent, want %d (arch) and %d (Bytes)", i, len(payload), wantBytes, m.Bytes(P))
					}
					r, err := c.Infer(ctx, m.Name(), P, m.Dtype(), payload)
					if err != nil {
						t.Fatalf("window %d: %v", i, err)
					}
					var want int
					switch m.Name() {
					case "f32":
						want = fm.Predict(x)
						logits := make([]float32, 5)
						fm.Logits(x, logits)
						if !slices.Equal(r.Scores, logits) {
							t.Fatalf("window %d: scores %v, unsplit logits %v", i, r.Scores, logits)
						}
						if r.ScoresInt8 != nil {
							t.Errorf("float model answered scores_int8 %v", r.ScoresInt8)
						}
					case "i8", "i4":
						qm := map[string]*quant.Model{"i8": q8, "i4": q4}[m.Name()]
						want = qm.Predict(x)
						if !slices.Equal(r.Scores, qm.Scores(x)) {
							t.Fatalf("window %d: scores %v, unsplit %v", i, r.Scores, qm.Scores(x))
						}
						if len(r.ScoresInt8) != 5 {
							t.Fatalf("window %d: scores_int8 %v", i, r.ScoresInt8)
						}
					}
					if r.Class != want || r.Label != testClasses[want] || r.Model != m.Name() || r.Split != P {
						t.Fatalf("window %d: answer %+v, want class %d (%s) of %s at %d", i, r, want, testClasses[want], m.Name(), P)
					}
					if want == int(d.Labels[i]) {
						agree++
					}
				}
				t.Logf("%d windows, %d bytes each, %d agree with the (random) labels", d.Len(), wantBytes, agree)
			})
		}
	}
}

// jsonBody is a JSON inference request for tensor P of m made from the
// wire payload.
func jsonBody(m *Model, P int, payload []byte) string {
	vals := make([]string, m.Values(P))
	for i := range vals {
		if m.Quantized() {
			vals[i] = strconv.Itoa(int(int8(payload[i])))
		} else {
			vals[i] = strconv.FormatFloat(float64(math.Float32frombits(binary.LittleEndian.Uint32(payload[4*i:]))), 'g', -1, 32)
		}
	}
	return fmt.Sprintf(`{"split": %d, "dtype": %q, "tensor": [%s]}`, P, m.Dtype(), strings.Join(vals, ", "))
}

// TestJSONMatchesRaw sends the same tensors as JSON: the answers equal the
// raw requests'.
func TestJSONMatchesRaw(t *testing.T) {
	fm, _, _, ms := testModels(t)
	_, ts, _ := newTestServer(t, ms)
	c := &Client{BaseURL: ts.URL, Token: testToken}
	d := gaussian(10, fm.Network().Input(), 3)
	for _, m := range ms {
		for P := 0; P <= m.Layers(); P++ {
			for i := range d.Len() {
				payload, err := m.Edge(d.Sample(i), P)
				if err != nil {
					t.Fatal(err)
				}
				raw, err := c.Infer(context.Background(), m.Name(), P, m.Dtype(), payload)
				if err != nil {
					t.Fatal(err)
				}
				status, body := do(t, ts, http.MethodPost, "/v1/models/"+m.Name()+":infer", testToken, ContentTypeJSON, nil, jsonBody(m, P, payload))
				if status != http.StatusOK {
					t.Fatalf("%s P=%d: JSON request: %d %s", m.Name(), P, status, body)
				}
				var got Response
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatal(err)
				}
				if got.Class != raw.Class || !slices.Equal(got.Scores, raw.Scores) || !slices.Equal(got.ScoresInt8, raw.ScoresInt8) {
					t.Fatalf("%s P=%d window %d: JSON answer %+v, raw %+v", m.Name(), P, i, got, raw)
				}
			}
		}
	}
}

// do sends one request and returns the status and body.
func do(t *testing.T, ts *httptest.Server, method, path, token, ctype string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestBadRequests sends malformed requests: each gets the exact status, a
// JSON error with its cause and a message naming the problem; a valid
// request still succeeds afterwards, and the metrics counted every error.
func TestBadRequests(t *testing.T) {
	fm, _, _, ms := testModels(t)
	_, ts, _ := newTestServer(t, ms)
	x := gaussian(1, fm.Network().Input(), 4).Sample(0)
	f32, i8 := ms[0], ms[1]
	p1, _ := f32.Edge(x, 1) // 64x4 float32: 1,024 bytes
	q1, _ := i8.Edge(x, 1)  // 64x4 int8: 256 bytes
	nan := slices.Clone(p1)
	binary.LittleEndian.PutUint32(nan[8:], math.Float32bits(float32(math.NaN())))
	inf := slices.Clone(p1)
	binary.LittleEndian.PutUint32(inf[400:], math.Float32bits(float32(math.Inf(1))))
	raw := func(P string, dtype string) map[string]string {
		h := map[string]string{}
		if P != "" {
			h[HeaderSplit] = P
		}
		if dtype != "" {
			h[HeaderDtype] = dtype
		}
		return h
	}
	infer := "/v1/models/f32:infer"
	big := strings.Repeat("\x00", f32.MaxBytes()+4) // the largest tensor is 128x2 float32: 1,024 B; +4
	for _, c := range []struct {
		name, method, path, token, ctype string
		hdr                              map[string]string
		body                             string
		status                           int
		cause                            Cause
		words                            []string
	}{
		{"short body", "POST", infer, testToken, ContentTypeRaw, raw("1", "float32"), string(p1[:1020]), 400, CauseBadLength, []string{"1020 bytes", "64x4", "1024 bytes"}},
		{"long body", "POST", infer, testToken, ContentTypeRaw, raw("3", "float32"), string(p1), 400, CauseBadLength, []string{"1024 bytes", "split 3", "20 bytes"}},
		{"wrong dtype", "POST", infer, testToken, ContentTypeRaw, raw("1", "int8"), string(p1), 400, CauseBadDtype, []string{HeaderDtype, `"int8"`, "float32"}},
		{"int8 model sent float32", "POST", "/v1/models/i8:infer", testToken, ContentTypeRaw, raw("1", "float32"), string(q1), 400, CauseBadDtype, []string{HeaderDtype, "i8 takes int8"}},
		{"missing dtype", "POST", infer, testToken, ContentTypeRaw, raw("1", ""), string(p1), 400, CauseBadDtype, []string{HeaderDtype, "missing", "float32"}},
		{"NaN", "POST", infer, testToken, ContentTypeRaw, raw("1", "float32"), string(nan), 400, CauseNotFinite, []string{"value 2", "NaN", "finite"}},
		{"+Inf", "POST", infer, testToken, ContentTypeRaw, raw("1", "float32"), string(inf), 400, CauseNotFinite, []string{"value 100", "+Inf", "finite"}},
		{"unknown model", "POST", "/v1/models/nope:infer", testToken, ContentTypeRaw, raw("1", "float32"), string(p1), 404, CauseUnknownModel, []string{`"nope"`, "f32, i4, i8"}},
		{"split -1", "POST", infer, testToken, ContentTypeRaw, raw("-1", "float32"), string(p1), 400, CauseBadSplit, []string{HeaderSplit, "split -1", "0..3"}},
		{"split L+1", "POST", infer, testToken, ContentTypeRaw, raw("4", "float32"), string(p1), 400, CauseBadSplit, []string{HeaderSplit, "split 4", "0..3"}},
		{"missing split", "POST", infer, testToken, ContentTypeRaw, raw("", "float32"), string(p1), 400, CauseBadSplit, []string{HeaderSplit, "missing", "0..3"}},
		{"garbled split", "POST", infer, testToken, ContentTypeRaw, raw("one", "float32"), string(p1), 400, CauseBadSplit, []string{HeaderSplit, `"one"`, "integer in 0..3"}},
		{"no token", "POST", infer, "", ContentTypeRaw, raw("1", "float32"), string(p1), 401, CauseUnauthorized, []string{"Authorization", "missing", "Bearer"}},
		{"wrong token", "POST", infer, "s3cret-tokeN", ContentTypeRaw, raw("1", "float32"), string(p1), 401, CauseUnauthorized, []string{"Authorization", "token"}},
		{"no token on list", "GET", "/v1/models", "", "", nil, "", 401, CauseUnauthorized, []string{"Authorization"}},
		{"no token on metrics", "GET", "/metrics", "", "", nil, "", 401, CauseUnauthorized, []string{"Authorization"}},
		{"too large", "POST", infer, testToken, ContentTypeRaw, raw("0", "float32"), big, 413, CauseTooLarge, []string{"exceeds 1024 bytes", "f32"}},
		{"too large JSON", "POST", infer, testToken, ContentTypeJSON, nil, `{"tensor": [` + strings.Repeat("0,", 40000) + `0]}`, 413, CauseTooLarge, []string{"JSON body", "f32"}},
		{"bad JSON", "POST", infer, testToken, ContentTypeJSON, nil, `{"split": 1, "dtype": "float32", "tensor": [1, 2,`, 400, CauseBadJSON, []string{"not a JSON object", `"split": P`}},
		{"JSON unknown field", "POST", infer, testToken, ContentTypeJSON, nil, `{"split": 1, "dtype": "float32", "tensors": []}`, 400, CauseBadJSON, []string{`unknown field "tensors"`}},
		{"JSON trailing data", "POST", infer, testToken, ContentTypeJSON, nil, `{"split": 0, "dtype": "float32", "tensor": []} {}`, 400, CauseBadJSON, []string{"data after the JSON object"}},
		{"JSON no split", "POST", infer, testToken, ContentTypeJSON, nil, `{"dtype": "float32", "tensor": [1]}`, 400, CauseBadSplit, []string{"field split is missing"}},
		{"JSON split out of range", "POST", infer, testToken, ContentTypeJSON, nil, `{"split": 9, "dtype": "float32", "tensor": [1]}`, 400, CauseBadSplit, []string{"field split", "0..3"}},
		{"JSON wrong dtype", "POST", infer, testToken, ContentTypeJSON, nil, `{"split": 3, "dtype": "int8", "tensor": [1, 2, 3, 4, 5]}`, 400, CauseBadDtype, []string{"field dtype", "float32"}},
		{"JSON wrong length", "POST", infer, testToken, ContentTypeJSON, nil, `{"split": 3, "dtype": "float32", "tensor": [1, 2]}`, 400, CauseBadLength, []string{"field tensor has 2 values", "5 float32 values"}},
		{"JSON float32 overflow", "POST", infer, testToken, ContentTypeJSON, nil, `{"split": 3, "dtype": "float32", "tensor": [1, 2, 1e39, 4, 5]}`, 400, CauseNotFinite, []string{"tensor[2]", "1e39", "finite float32"}},
		{"JSON int8 not an integer", "POST", "/v1/models/i8:infer", testToken, ContentTypeJSON, nil, `{"split": 3, "dtype": "int8", "tensor": [1, 2, 1.5, 4, 5]}`, 400, CauseBadDtype, []string{"tensor[2]", "1.5", "-128..127"}},
		{"JSON int8 out of range", "POST", "/v1/models/i8:infer", testToken, ContentTypeJSON, nil, `{"split": 3, "dtype": "int8", "tensor": [1, 2, 3, 4, 128]}`, 400, CauseBadDtype, []string{"tensor[4]", "128"}},
		{"JSON null value", "POST", infer, testToken, ContentTypeJSON, nil, `{"split": 3, "dtype": "float32", "tensor": [1, null, 3, 4, 5]}`, 400, CauseBadJSON, []string{"tensor[1]", "want a number"}},
		{"content type", "POST", infer, testToken, "text/plain", raw("1", "float32"), string(p1), 415, CauseBadContentType, []string{"Content-Type", `"text/plain"`, ContentTypeRaw, ContentTypeJSON}},
		{"no content type", "POST", infer, testToken, "", raw("1", "float32"), string(p1), 415, CauseBadContentType, []string{"Content-Type", ContentTypeRaw}},
		{"GET on infer", "GET", infer, testToken, "", nil, "", 405, CauseMethod, []string{"method GET", "POST"}},
		{"POST on list", "POST", "/v1/models", testToken, "", nil, "", 405, CauseMethod, []string{"method POST", "GET"}},
		{"unknown path", "GET", "/v2/x", testToken, "", nil, "", 404, CauseNotFound, []string{`"/v2/x"`, "/v1/models/{name}:infer"}},
		{"nested path", "POST", "/v1/models/f32/x:infer", testToken, ContentTypeRaw, raw("1", "float32"), string(p1), 404, CauseNotFound, []string{"no such path"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := do(t, ts, c.method, c.path, c.token, c.ctype, c.hdr, c.body)
			if status != c.status {
				t.Errorf("status %d, want %d: %s", status, c.status, body)
			}
			var e ErrorBody
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("error body is not JSON: %v: %q", err, body)
			}
			if e.Cause != c.cause {
				t.Errorf("cause %q, want %q (%s)", e.Cause, c.cause, e.Error)
			}
			for _, w := range c.words {
				if !strings.Contains(e.Error, w) {
					t.Errorf("error %q lacks %q", e.Error, w)
				}
			}
		})
	}
	// Still serving.
	c := &Client{BaseURL: ts.URL, Token: testToken}
	r, err := c.Infer(context.Background(), "f32", 1, Float32, p1)
	if err != nil || r.Class != fm.Predict(x) {
		t.Fatalf("valid request after the bad ones: %+v, %v", r, err)
	}
	// The client reports an error response as a *StatusError.
	_, err = c.Infer(context.Background(), "f32", 3, Float32, p1)
	se, ok := errors.AsType[*StatusError](err)
	if !ok || se.Status != 400 || se.Body.Cause != CauseBadLength {
		t.Errorf("client error %v (%T), want a 400 bad_length *StatusError", err, err)
	}
}

// TestMetrics reads /metrics after a few requests: the request and error
// counters and the latency histogram are there with the right counts.
func TestMetrics(t *testing.T) {
	fm, _, _, ms := testModels(t)
	_, ts, _ := newTestServer(t, ms)
	c := &Client{BaseURL: ts.URL, Token: testToken}
	x := gaussian(1, fm.Network().Input(), 5).Sample(0)
	p, _ := ms[0].Edge(x, 2)
	for range 3 {
		if _, err := c.Infer(context.Background(), "f32", 2, Float32, p); err != nil {
			t.Fatal(err)
		}
	}
	c.Infer(context.Background(), "f32", 3, Float32, p)                          // bad_length
	c.Infer(context.Background(), "f32", 9, Float32, p)                          // bad_split
	(&Client{BaseURL: ts.URL}).Infer(context.Background(), "f32", 2, Float32, p) // unauthorized
	c.Infer(context.Background(), "whatever", 2, Float32, p)                     // unknown_model, counted without the name
	status, body := do(t, ts, "GET", "/metrics", testToken, "", nil, "")
	if status != 200 {
		t.Fatalf("/metrics: %d %s", status, body)
	}
	for _, want := range []string{
		`splitnas_fog_requests_total{code="200",model="f32",route="infer"} 3`,
		`splitnas_fog_requests_total{code="400",model="f32",route="infer"} 2`,
		`splitnas_fog_requests_total{code="401",model="",route="infer"} 1`,
		`splitnas_fog_requests_total{code="404",model="",route="infer"} 1`,
		`splitnas_fog_errors_total{cause="bad_length"} 1`,
		`splitnas_fog_errors_total{cause="bad_split"} 1`,
		`splitnas_fog_errors_total{cause="unauthorized"} 1`,
		`splitnas_fog_errors_total{cause="unknown_model"} 1`,
		`splitnas_fog_errors_total{cause="not_finite"} 0`,
		`splitnas_fog_request_duration_seconds_count{route="infer"} 7`,
		`splitnas_fog_request_duration_seconds_bucket{route="infer",le="+Inf"} 7`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "whatever") {
		t.Error("/metrics holds a label from the request path")
	}
}

// TestPanicRecovered makes a handler panic: the client gets a 500 with
// cause internal, the metric counts it, and the server keeps serving.
func TestPanicRecovered(t *testing.T) {
	_, _, _, ms := testModels(t)
	s, ts, _ := newTestServer(t, ms)
	s.mux.HandleFunc("/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	status, body := do(t, ts, "GET", "/boom", "", "", nil, "")
	if status != 500 || !strings.Contains(body, `"cause":"internal"`) {
		t.Fatalf("panic: %d %s", status, body)
	}
	if status, body := do(t, ts, "GET", "/healthz", "", "", nil, ""); status != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("after the panic: %d %s", status, body)
	}
	_, body = do(t, ts, "GET", "/metrics", testToken, "", nil, "")
	if !strings.Contains(body, `splitnas_fog_errors_total{cause="internal"} 1`) {
		t.Error("/metrics did not count the panic")
	}
}

// TestModelsEndpoint lists the models: names, classes, split points with
// their shapes and bytes.
func TestModelsEndpoint(t *testing.T) {
	_, _, _, ms := testModels(t)
	_, ts, _ := newTestServer(t, ms)
	c := &Client{BaseURL: ts.URL, Token: testToken}
	infos, err := c.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 3 || infos[0].Name != "f32" || infos[1].Name != "i4" || infos[2].Name != "i8" {
		t.Fatalf("models %+v", infos)
	}
	f := infos[0]
	if f.Arch != testArch || f.Dtype != "float32" || f.Precision != "float32" || !slices.Equal(f.Classes, testClasses) ||
		f.Input != (Shape{Length: 256, Channels: 1}) || len(f.Splits) != 4 {
		t.Errorf("f32: %+v", f)
	}
	want := []SplitInfo{{0, Shape{256, 1}, 256, 1024}, {1, Shape{64, 4}, 256, 1024}, {2, Shape{128, 2}, 256, 1024}, {3, Shape{5, 1}, 5, 20}}
	if !slices.Equal(f.Splits, want) {
		t.Errorf("f32 splits %+v, want %+v", f.Splits, want)
	}
	if i4 := infos[1]; i4.Precision != "int4" || i4.Dtype != "int8" || i4.Splits[3].Bytes != 5 || i4.Splits[0].Bytes != 256 {
		t.Errorf("i4: %+v", i4)
	}
	status, body := do(t, ts, "GET", "/v1/models/i8", testToken, "", nil, "")
	if status != 200 || !strings.Contains(body, `"name":"i8"`) {
		t.Errorf("GET /v1/models/i8: %d %s", status, body)
	}
}

// TestInsecure: no token is refused unless Insecure, which opens every path.
func TestInsecure(t *testing.T) {
	_, _, _, ms := testModels(t)
	if _, err := NewServer(ms, Options{}); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Errorf("no token: %v", err)
	}
	s, err := NewServer(ms, Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	if status, body := do(t, ts, "GET", "/v1/models", "", "", nil, ""); status != 200 {
		t.Errorf("insecure list: %d %s", status, body)
	}
	if _, err := NewServer(append(ms, ms[0]), Options{Insecure: true}); err == nil || !strings.Contains(err.Error(), "two models named f32") {
		t.Errorf("duplicate names: %v", err)
	}
	if _, err := NewServer(ms, Options{Insecure: true, Registerer: prometheus.NewRegistry(), Gatherer: nil}); err != nil {
		t.Error(err)
	}
}

func TestNewModel(t *testing.T) {
	fm, q8, _, _ := testModels(t)
	for _, c := range []struct {
		name string
		fm   *nn.Model
		qm   *quant.Model
		want string
	}{
		{"a:b", fm, nil, "model name"},
		{"", fm, nil, "model name"},
		{"x/y", fm, nil, "model name"},
		{"both", fm, q8, "exactly one"},
		{"none", nil, nil, "exactly one"},
	} {
		if _, err := NewModel(c.name, c.fm, c.qm); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewModel(%q): %v, want %q", c.name, err, c.want)
		}
	}
	fm.Classes = nil
	m, err := NewModel("plain", fm, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Labels(), []string{"0", "1", "2", "3", "4"}) {
		t.Errorf("labels %v", m.Labels())
	}
	if _, err := m.Edge(make([]float32, 10), 1); err == nil {
		t.Error("Edge with 10 values: no error")
	}
	if _, err := m.Edge(make([]float32, 256), 4); err == nil {
		t.Error("Edge at split 4 of 3 layers: no error")
	}
}

// FuzzInfer posts arbitrary headers and bodies to a live server (over
// loopback, as a client would): every one is answered without a 500 (no
// panic), a 200 only with the model's class for a well-formed tensor, and
// the next valid request still gets the right answer.
func FuzzInfer(f *testing.F) {
	fm, _, _, ms := testModels(f)
	_, ts, _ := newTestServer(f, ms)
	x := gaussian(1, fm.Network().Input(), 5).Sample(0)
	valid, err := ms[0].Edge(x, 1)
	if err != nil {
		f.Fatal(err)
	}
	want := fm.Predict(x)
	c := &Client{BaseURL: ts.URL, Token: testToken}
	f.Add("f32", "1", "float32", ContentTypeRaw, make([]byte, 1024))
	f.Add("i8", "0", "int8", ContentTypeRaw, make([]byte, 256))
	f.Add("i4", "3", "int8", ContentTypeJSON, []byte(`{"split":3,"dtype":"int8","tensor":[1,2,3,4,5]}`))
	f.Add("f32", "3", "float32", ContentTypeJSON, []byte(`{"split":3,"dtype":"float32","tensor":[1,2,3e38,4,-5]}`))
	f.Add("f32", "+1", "float32", ContentTypeRaw, []byte{0x7f, 0xc0, 0, 0})
	f.Fuzz(func(t *testing.T, model, split, dtype, ctype string, body []byte) {
		req, err := http.NewRequest("POST", ts.URL+"/v1/models/"+url.PathEscape(model)+":infer", bytes.NewReader(body))
		if err != nil {
			return
		}
		// Header values Go's client refuses to send (control characters)
		// never reach a server; skip them rather than fail in the client.
		for k, v := range map[string]string{"Content-Type": ctype, HeaderSplit: split, HeaderDtype: dtype} {
			if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
				return
			}
			req.Header.Set(k, v)
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		if resp.StatusCode != 200 {
			var e ErrorBody
			if err := json.Unmarshal(out, &e); err != nil || e.Cause == "" || e.Error == "" {
				t.Fatalf("status %d with body %q: want a JSON error naming the cause", resp.StatusCode, out)
			}
		}
		r, err := c.Infer(context.Background(), "f32", 1, Float32, valid)
		if err != nil || r.Class != want {
			t.Fatalf("valid request after the fuzzed one: %+v, %v", r, err)
		}
	})
}
