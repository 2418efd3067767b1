package fog

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Wire names.
const (
	HeaderSplit = "Splitnas-Split" // split point P of a raw request, decimal
	HeaderDtype = "Splitnas-Dtype" // dtype of a raw request's tensor: float32 or int8

	ContentTypeRaw  = "application/octet-stream"
	ContentTypeJSON = "application/json"

	inferSuffix = ":infer"
)

// DefaultJSONValueBytes is the default bound on the bytes one tensor value
// may take in a JSON request body ("-1.17549435e-38," is 16; the rest is
// room for spaces).
const DefaultJSONValueBytes = 32

// jsonOverheadBytes is what a JSON request body may hold besides the
// tensor's values: the braces, the split and dtype fields, white space.
const jsonOverheadBytes = 1024

// Options configure a Server.
type Options struct {
	// Token is the bearer token every request to /metrics and /v1/ must
	// carry ("Authorization: Bearer <Token>"). It must be set unless
	// Insecure is.
	Token []byte
	// Insecure serves without a token: anyone who can reach the server may
	// use it. The caller decides where that is acceptable (splitnas serve
	// allows it on loopback addresses only).
	Insecure bool
	// Registerer receives the server's metrics; nil means a fresh
	// prometheus.Registry (never the global default one).
	Registerer prometheus.Registerer
	// Gatherer is what GET /metrics exposes; nil means Registerer if it is
	// also a Gatherer (a *prometheus.Registry is both).
	Gatherer prometheus.Gatherer
	// Logger receives one line per error response (4xx at Debug, 5xx at
	// Error); nil discards them.
	Logger *slog.Logger
	// JSONValueBytes bounds a JSON request body: at most JSONValueBytes per
	// value of the model's largest tensor, plus 1 KiB. 0 means
	// DefaultJSONValueBytes.
	JSONValueBytes int
}

// Server is the fog's HTTP service: it runs layers P+1..L of its models on
// the tensors edges send (see the package documentation for the wire
// format). It is an http.Handler, safe for concurrent use; build it with
// NewServer.
type Server struct {
	models     map[string]*Model
	names      []string // sorted
	authDigest *[sha256.Size]byte
	gatherer   prometheus.Gatherer
	met        *metrics
	log        *slog.Logger
	jsonValue  int
	mux        *http.ServeMux
}

// NewServer serves models (at least one, distinct names) with opt.
func NewServer(models []*Model, opt Options) (*Server, error) {
	if len(models) == 0 {
		return nil, errors.New("fog: no models to serve")
	}
	if len(opt.Token) == 0 && !opt.Insecure {
		return nil, errors.New("fog: no token: set Options.Token, or Options.Insecure to serve without one")
	}
	if opt.JSONValueBytes < 0 {
		return nil, fmt.Errorf("fog: Options.JSONValueBytes %d: want ≥ 0", opt.JSONValueBytes)
	}
	s := &Server{models: map[string]*Model{}, log: opt.Logger, jsonValue: opt.JSONValueBytes, gatherer: opt.Gatherer}
	if s.jsonValue == 0 {
		s.jsonValue = DefaultJSONValueBytes
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, m := range models {
		if m == nil {
			return nil, errors.New("fog: nil model")
		}
		if _, dup := s.models[m.Name()]; dup {
			return nil, fmt.Errorf("fog: two models named %s", m.Name())
		}
		s.models[m.Name()] = m
		s.names = append(s.names, m.Name())
	}
	slices.Sort(s.names)
	if len(opt.Token) > 0 {
		d := sha256.Sum256(append([]byte("Bearer "), opt.Token...))
		s.authDigest = &d
	}
	reg := opt.Registerer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg = r
	}
	if s.gatherer == nil {
		g, ok := reg.(prometheus.Gatherer)
		if !ok {
			return nil, errors.New("fog: Options.Registerer is not a Gatherer: set Options.Gatherer for /metrics")
		}
		s.gatherer = g
	}
	var err error
	if s.met, err = newMetrics(reg); err != nil {
		return nil, err
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/healthz", s.health)
	s.mux.Handle("/metrics", s.authorize(s.metricsHandler()))
	s.mux.Handle("/v1/models", s.authorize(http.HandlerFunc(s.list)))
	s.mux.Handle("/v1/models/{spec}", s.authorize(http.HandlerFunc(s.model)))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, &InputError{Cause: CauseNotFound, Field: "path",
			Msg: fmt.Sprintf("no such path %q: want /healthz, /metrics, /v1/models or /v1/models/{name}:infer", r.URL.Path)})
	})
	return s, nil
}

// Models returns the served models' names, sorted.
func (s *Server) Models() []string { return slices.Clone(s.names) }

// requestState is what the handlers tell ServeHTTP about a request, for the
// metrics.
type requestState struct {
	route, model string
}

type stateKey struct{}

// recorder remembers the status a handler wrote.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ServeHTTP answers one request, counting it in the metrics. A panic in a
// handler (a bug: every input is validated before it is used) becomes a
// 500 with cause "internal" and a logged stack; the server keeps serving.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := &requestState{route: routeOf(r.URL.Path)}
	rec := &recorder{ResponseWriter: w}
	s.met.inFlight.Inc()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { // net/http's own way to abort a response: let it through
				s.met.inFlight.Dec()
				panic(v)
			}
			s.log.Error("fog: panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			if rec.status == 0 {
				s.fail(rec, r, &InputError{Cause: CauseInternal, Field: "server", Msg: "internal error (logged by the server)"})
			} else {
				s.met.errors.WithLabelValues(string(CauseInternal)).Inc()
				rec.status = http.StatusInternalServerError
			}
		}
		s.met.inFlight.Dec()
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.met.requests.WithLabelValues(st.route, st.model, strconv.Itoa(rec.status)).Inc()
		s.met.latency.WithLabelValues(st.route).Observe(time.Since(start).Seconds())
	}()
	s.mux.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
}

func routeOf(path string) string {
	switch {
	case path == "/healthz":
		return routeHealth
	case path == "/metrics":
		return routeMetrics
	case path == "/v1/models":
		return routeModels
	case strings.HasPrefix(path, "/v1/models/"):
		if strings.HasSuffix(path, inferSuffix) {
			return routeInfer
		}
		return routeModels
	}
	return routeOther
}

func state(r *http.Request) *requestState {
	if st, ok := r.Context().Value(stateKey{}).(*requestState); ok {
		return st
	}
	return &requestState{}
}

// authorize requires the bearer token (unless the server is insecure),
// comparing the whole Authorization header in constant time (as SHA-256
// digests, so not even the token's length leaks).
func (s *Server) authorize(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.authDigest != nil {
			vals := r.Header.Values("Authorization")
			got := sha256.Sum256([]byte(strings.Join(vals, ",")))
			if len(vals) != 1 || subtle.ConstantTimeCompare(got[:], s.authDigest[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="splitnas"`)
				msg := "header Authorization is missing: want \"Bearer <token>\""
				if len(vals) > 0 {
					msg = "header Authorization does not hold the server's token: want \"Bearer <token>\""
				}
				s.fail(w, r, &InputError{Cause: CauseUnauthorized, Field: "Authorization", Msg: msg})
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// allow answers 405 unless r's method is one of methods (GET allows HEAD).
func (s *Server) allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	s.fail(w, r, &InputError{Cause: CauseMethod, Field: "method",
		Msg: fmt.Sprintf("method %s not allowed on %s: want %s", r.Method, r.URL.Path, strings.Join(methods, " or "))})
	return false
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if !s.allow(w, r, http.MethodGet) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "models": len(s.names)})
}

func (s *Server) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.allow(w, r, http.MethodGet) {
			h.ServeHTTP(w, r)
		}
	})
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	if !s.allow(w, r, http.MethodGet) {
		return
	}
	infos := make([]Info, len(s.names))
	for i, n := range s.names {
		infos[i] = s.models[n].Info()
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": infos})
}

// model serves /v1/models/{spec}: GET {name} describes a model, POST
// {name}:infer runs it. (ServeMux patterns match whole segments, so the
// ":infer" suffix is split off here.)
func (s *Server) model(w http.ResponseWriter, r *http.Request) {
	spec := r.PathValue("spec")
	name, infer := strings.CutSuffix(spec, inferSuffix)
	m := s.models[name]
	if m == nil {
		s.fail(w, r, &InputError{Cause: CauseUnknownModel, Field: "path",
			Msg: fmt.Sprintf("no model %q: this server serves %s", name, strings.Join(s.names, ", "))})
		return
	}
	if !infer {
		if s.allow(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, m.Info())
		}
		return
	}
	state(r).model = name
	if !s.allow(w, r, http.MethodPost) {
		return
	}
	var (
		P       int
		payload []byte
		err     error
	)
	ct := r.Header.Get("Content-Type")
	mt, _, perr := mime.ParseMediaType(ct)
	switch {
	case perr == nil && mt == ContentTypeRaw:
		P, payload, err = s.readRaw(w, r, m)
	case perr == nil && mt == ContentTypeJSON:
		P, payload, err = s.readJSON(w, r, m)
	default:
		err = &InputError{Cause: CauseBadContentType, Field: "Content-Type",
			Msg: fmt.Sprintf("header Content-Type is %q: want %s (raw tensor) or %s", ct, ContentTypeRaw, ContentTypeJSON)}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := m.Finish(P, payload)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, Response{Model: name, Split: P, Result: res})
}

// Response is the JSON body of a successful inference.
type Response struct {
	Model string `json:"model"`
	Split int    `json:"split"`
	Result
}

// tooLarge is the 413 error of a body over limit bytes.
func tooLarge(m *Model, limit int64, what string) error {
	return &InputError{Cause: CauseTooLarge, Field: "body",
		Msg: fmt.Sprintf("body exceeds %d bytes, the largest %s model %s takes", limit, what, m.Name())}
}

// readRaw validates the headers of a raw request, then reads its body.
func (s *Server) readRaw(w http.ResponseWriter, r *http.Request, m *Model) (int, []byte, error) {
	limit := int64(m.MaxBytes())
	if r.ContentLength > limit {
		return 0, nil, tooLarge(m, limit, "tensor")
	}
	hs := r.Header.Values(HeaderSplit)
	if len(hs) != 1 {
		msg := fmt.Sprintf("header %s is missing: want the split point, an integer in 0..%d", HeaderSplit, m.Layers())
		if len(hs) > 1 {
			msg = fmt.Sprintf("header %s is given %d times: want it once", HeaderSplit, len(hs))
		}
		return 0, nil, &InputError{Cause: CauseBadSplit, Field: HeaderSplit, Msg: msg}
	}
	P, err := strconv.Atoi(strings.TrimSpace(hs[0]))
	if err != nil {
		return 0, nil, &InputError{Cause: CauseBadSplit, Field: HeaderSplit,
			Msg: fmt.Sprintf("header %s is %q: want an integer in 0..%d", HeaderSplit, clip(hs[0]), m.Layers())}
	}
	if err := m.checkSplit(P, "header "+HeaderSplit, HeaderSplit); err != nil {
		return 0, nil, err
	}
	if err := checkDtype(m, r.Header.Values(HeaderDtype), "header "+HeaderDtype, HeaderDtype); err != nil {
		return 0, nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return 0, nil, tooLarge(m, limit, "tensor")
		}
		return 0, nil, &InputError{Cause: CauseBadLength, Field: "body", Msg: fmt.Sprintf("reading the body: %v", err)}
	}
	return P, body, nil
}

// checkDtype checks the request's dtype (given once) against m's.
func checkDtype(m *Model, vals []string, what, field string) error {
	switch {
	case len(vals) == 0:
		return &InputError{Cause: CauseBadDtype, Field: field, Msg: fmt.Sprintf("%s is missing: want %s for model %s", what, m.Dtype(), m.Name())}
	case len(vals) > 1:
		return &InputError{Cause: CauseBadDtype, Field: field, Msg: fmt.Sprintf("%s is given %d times: want it once", what, len(vals))}
	case strings.TrimSpace(vals[0]) != m.Dtype():
		return &InputError{Cause: CauseBadDtype, Field: field,
			Msg: fmt.Sprintf("%s is %q: model %s takes %s tensors", what, clip(vals[0]), m.Name(), m.Dtype())}
	}
	return nil
}

// clip shortens text quoted back in an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// jsonRequest is the JSON request body.
type jsonRequest struct {
	Split  *int          `json:"split"`
	Dtype  *string       `json:"dtype"`
	Tensor []json.Number `json:"tensor"`
}

// readJSON reads and validates a JSON request, returning its tensor as the
// raw payload.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, m *Model) (int, []byte, error) {
	maxValues := 0
	for P := 0; P <= m.Layers(); P++ {
		maxValues = max(maxValues, m.Values(P))
	}
	limit := int64(maxValues)*int64(s.jsonValue) + jsonOverheadBytes
	if r.ContentLength > limit {
		return 0, nil, tooLarge(m, limit, "JSON body")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	var req jsonRequest
	err := dec.Decode(&req)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("data after the JSON object")
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return 0, nil, tooLarge(m, limit, "JSON body")
		}
		return 0, nil, &InputError{Cause: CauseBadJSON, Field: "body",
			Msg: fmt.Sprintf("body is not a JSON object {\"split\": P, \"dtype\": %q, \"tensor\": [...]}: %v", m.Dtype(), err)}
	}
	if req.Split == nil {
		return 0, nil, &InputError{Cause: CauseBadSplit, Field: "split",
			Msg: fmt.Sprintf("field split is missing: want the split point, an integer in 0..%d", m.Layers())}
	}
	P := *req.Split
	if err := m.checkSplit(P, "field split", "split"); err != nil {
		return 0, nil, err
	}
	var dt []string
	if req.Dtype != nil {
		dt = []string{*req.Dtype}
	}
	if err := checkDtype(m, dt, "field dtype", "dtype"); err != nil {
		return 0, nil, err
	}
	if n := m.Values(P); len(req.Tensor) != n {
		return 0, nil, &InputError{Cause: CauseBadLength, Field: "tensor",
			Msg: fmt.Sprintf("field tensor has %d values; split %d of model %s takes tensor %v: %d %s values", len(req.Tensor), P, m.Name(), m.Tensor(P), n, m.Dtype())}
	}
	payload := make([]byte, m.Bytes(P))
	for i, num := range req.Tensor {
		v, err := strconv.ParseFloat(string(num), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, nil, &InputError{Cause: CauseBadJSON, Field: "tensor", Msg: fmt.Sprintf("field tensor[%d] is %q: want a number", i, clip(string(num)))}
		}
		if m.Quantized() {
			if v != math.Trunc(v) || v < math.MinInt8 || v > math.MaxInt8 {
				return 0, nil, &InputError{Cause: CauseBadDtype, Field: "tensor",
					Msg: fmt.Sprintf("field tensor[%d] is %s: want an int8, an integer in -128..127", i, clip(string(num)))}
			}
			payload[i] = byte(int8(v))
			continue
		}
		f := float32(v)
		if math.IsInf(float64(f), 0) || math.IsNaN(v) {
			return 0, nil, &InputError{Cause: CauseNotFinite, Field: "tensor",
				Msg: fmt.Sprintf("field tensor[%d] is %s: want a finite float32 (magnitude below 3.4e38)", i, clip(string(num)))}
		}
		binary.LittleEndian.PutUint32(payload[4*i:], math.Float32bits(f))
	}
	return P, payload, nil
}

// fail writes err as the JSON error body with its cause's status and
// counts it. An error that is not an *InputError is a bug: 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	ie, ok := errors.AsType[*InputError](err)
	if !ok {
		ie = &InputError{Cause: CauseInternal, Field: "server", Msg: "internal error (logged by the server)"}
		s.log.Error("fog: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	status := ie.Cause.Status()
	s.met.errors.WithLabelValues(string(ie.Cause)).Inc()
	if status < 500 {
		s.log.Debug("fog: refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "status", status, "cause", ie.Cause, "error", ie.Msg)
	}
	writeJSON(w, status, ErrorBody{Error: ie.Msg, Cause: ie.Cause})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only non-finite floats, which Finish refuses
		status = http.StatusInternalServerError
		b, _ = json.Marshal(ErrorBody{Error: "encoding the response: " + err.Error(), Cause: CauseInternal})
	}
	h := w.Header()
	h.Set("Content-Type", ContentTypeJSON)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
